-- Step 1 (CSV sources; 01_load_events_parquet.sql is the alternative): load a
-- delimited ratings file into `loaded_events`, one row per line.
-- Fields arrive named by role (user_key, item_key, rating, ts; others unused_<n>)
-- through the bound $columns struct. A file without ratings gets rating 1.0.
-- ts: epoch seconds, UTC, read as DOUBLE so that a fractional one is caught.
--
-- Ids are kept as 64-bit hashes, not strings: every later step then works on
-- fixed-width ints, and step 5 recovers the strings of the kept ids only (and
-- proves the hashes distinct).
-- Insertion order is kept so that the table's rowid is the file row number. Lines
-- that fail to parse go to the reject_errors table with their byte offset; rows
-- that parse but hold an unusable value are listed in the view `flagged_rows`.
set preserve_insertion_order = true;

create or replace table loaded_events as
with parsed as (
    select
        columns(lambda c: c in ('user_key', 'item_key', 'rating', 'ts')),
        1.0 as default_rating
    from read_csv(
        $path,
        columns = $columns,
        delim = $delim,
        quote = $quote,
        escape = $quote,
        header = $header,
        encoding = $encoding,
        auto_detect = false,
        store_rejects = true
    )
),

with_candidates as (
    -- (rating, default) when the file has ratings, else (default): the first is
    -- the value, so an empty rating stays NULL and is reported as a bad row.
    select *, row(*columns(lambda c: c in ('rating', 'default_rating'))) as candidates
    from parsed
),

typed as (
    select
        user_key,
        item_key,
        cast(struct_extract(candidates, 1) as float) as rating,
        ts
    from with_candidates
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

-- Later steps read `events`; the view adds the file row number (0-based, data
-- rows only) that breaks timestamp ties.
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
