-- Step 1 (Parquet sources; 01_load_events_csv.sql is the alternative): load the
-- registered Arrow table `source_rows`, whose columns are already named by role,
-- into `loaded_events` in file order, with ids as 64-bit hashes and unusable
-- values named in `bad_field` as in 01_load_events_csv.sql. A column of another
-- type is converted where it can be (try_cast), else the row is flagged.
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

checked as (
    -- An id is empty when trim() leaves nothing. trim() removes only spaces and
    -- other Unicode space separators, so an id whose first byte lies between '!'
    -- and 0x7f is not empty: comparing bytes first spares trim() on almost every
    -- id. Integers beyond 2^53 are not exact as DOUBLE (nor plausible epoch
    -- seconds).
    select
        *,
        case
            when user_key is null
                or ((user_key < '!' or user_key >= chr(128)) and trim(user_key) = '')
                then 'user'
            when item_key is null
                or ((item_key < '!' or item_key >= chr(128)) and trim(item_key) = '')
                then 'item'
            when not coalesce(isfinite(rating), false) then 'rating'
            when not coalesce(isfinite(ts), false)
                or ts <> trunc(ts)
                or abs(ts) > 9007199254740992 then 'ts'
        end as bad_field
    from typed
),

final as (
    select
        hash(user_key) as user_hash,
        hash(item_key) as item_hash,
        rating,
        try_cast(ts as bigint) as ts,
        bad_field
    from checked
)

select * from final;

set preserve_insertion_order = false;

-- Compress the loaded events (the working database is attached with COMPRESS):
-- 20M rows shrink from about 840 MB to 260 MB, so that the later steps fit the
-- memory limit instead of spilling them.
checkpoint;

create or replace view events as
select rowid as file_row, * exclude (bad_field)
from loaded_events;

-- The ids that the filter keeps: every id of `events`. 04_filter_k_core.sql filters
-- `events` itself; 04_filter_single_pass.sql replaces these views with tables.
create or replace view kept_users as
select distinct user_hash
from events;

create or replace view kept_items as
select distinct item_hash
from events;
