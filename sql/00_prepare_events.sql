-- Step 0: what both loaders of step 1 share, defined once before either runs: the
-- value checks as macros, the empty `loaded_events` table that step 1 fills, and
-- the views over it that the later steps read.
--
-- A value that fails its check becomes NULL, so a bad row is one with a NULL (view
-- `flagged_rows`). Ids are kept as 64-bit hashes, not strings: every later step
-- then works on fixed-width ints, and step 5 recovers the strings of the ids (and
-- proves the hashes distinct).

-- An id is empty when trim() leaves nothing. trim() removes only spaces and other
-- Unicode space separators, so an id whose first byte lies between '!' and 0x7f
-- is not: comparing bytes first spares trim() on almost every id.
create or replace macro id_hash(id) as
    case
        when (id >= '!' and id < chr(128)) or trim(id) <> '' then hash(id)
    end;

-- For sources whose ids are integers: the id when it is one, written plainly
-- (an optional minus and digits, no leading zero), else NULL. DuckDB's own cast
-- would also take ' 7', '1.5' (as 2), '1e3' or '0x10'; the round trip rejects them.
create or replace macro plain_integer(id) as
    case when cast(try_cast(id as bigint) as varchar) = id then id end;

create or replace macro finite_or_null(value) as
    case when isfinite(value) then value end;

-- ts: epoch seconds (UTC) as DOUBLE, so that a fractional one is caught. Integers
-- from 2^53 on are not all exact as DOUBLE (2^53 + 1 reads as 2^53), nor plausible
-- epoch seconds: those are refused.
create or replace macro whole_seconds(ts) as
    case
        when isfinite(ts) and ts = trunc(ts) and abs(ts) < 9007199254740992
            then cast(ts as bigint)
    end;

-- Step 1 inserts in file order, so that rowid is the file row number.
create or replace table loaded_events (
    user_hash ubigint,
    item_hash ubigint,
    rating float,
    ts bigint
);

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
