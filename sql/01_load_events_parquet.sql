-- Step 1 (Parquet sources; 01_load_events_csv.sql is the alternative): load the
-- registered Arrow table `source_rows`, whose columns are already named by role,
-- into `loaded_events` in file order, with ids as 64-bit hashes and unusable
-- values listed in `flagged_rows` as in 01_load_events_csv.sql. A column of
-- another type is converted where it can be (try_cast), else the row is flagged.
-- ts: epoch seconds, UTC.
set preserve_insertion_order = true;

create or replace table loaded_events as
with typed as (
    select
        cast(user_key as varchar) as user_key,
        cast(item_key as varchar) as item_key,
        try_cast(rating as float) as rating,
        try_cast(ts as double) as ts
    from source_rows
),

final as (
    -- A value that fails its check becomes NULL, so a bad row is one with a NULL
    -- (view `flagged_rows` below). An id is empty when trim() leaves nothing;
    -- trim() removes only spaces and other Unicode space separators, so an id
    -- whose first byte lies between '!' and 0x7f is not: comparing bytes first
    -- spares trim() on almost every id. Integers beyond 2^53 are not exact as
    -- DOUBLE (nor plausible epoch seconds).
    select
        case
            when (user_key >= '!' and user_key < chr(128)) or trim(user_key) <> ''
                then hash(user_key)
        end as user_hash,
        case
            when (item_key >= '!' and item_key < chr(128)) or trim(item_key) <> ''
                then hash(item_key)
        end as item_hash,
        case when isfinite(rating) then rating end as rating,
        case
            when isfinite(ts) and ts = trunc(ts) and abs(ts) <= 9007199254740992
                then cast(ts as bigint)
        end as ts
    from typed
)

select * from final;

set preserve_insertion_order = false;

-- Compress the loaded events (the working database is attached with COMPRESS):
-- 20M rows shrink from about 730 MB to 290 MB (ts and rating compress well, ids
-- that repeat on consecutive rows too), so that the later steps fit the memory
-- limit instead of spilling.
checkpoint;

-- The loaded rows that hold an unusable value, with the role of the first one
-- (user, item, rating, ts); rowid is the file row. The runner reports them and
-- step 2 drops them.
create or replace view flagged_rows as
select
    rowid,
    case
        when user_hash is null then 'user'
        when item_hash is null then 'item'
        when rating is null then 'rating'
        else 'ts'
    end as bad_field
from loaded_events
where user_hash is null or item_hash is null or rating is null or ts is null;

create or replace view events as
select rowid as file_row, *
from loaded_events;

-- The ids that the filter keeps: every id of `events`. 04_filter_k_core.sql filters
-- `events` itself; 04_filter_single_pass.sql replaces these views with tables.
create or replace view kept_users as
select distinct user_hash
from events;

create or replace view kept_items as
select distinct item_hash
from events;
