-- Step 0: what both loaders of step 1 share, defined once before either runs: the
-- value checks as macros, the empty `loaded_events` table that step 1 fills, and
-- the views and tables over it that the later steps read.
--
-- A value that fails its check becomes NULL, so a bad row is one with a NULL (view
-- `flagged_rows`). Ids are kept as their text, read once from the file: grouping
-- and counting use the text itself, and only the joins of steps 4 and 11 match
-- ids by their 64-bit hash (see `hash_collisions` for why that stays exact).

-- An id is empty when it holds only white space: the characters that Python's
-- str.isspace() accepts (tab, line breaks, \x1c-\x1f, \x85 and the Unicode
-- separators), which is how the bad-row messages read it back. An id whose first
-- byte lies between '!' and 0x7f is not empty: comparing bytes first spares the
-- regular expression on almost every id.
create or replace macro checked_id(id) as
    case
        when (id >= '!' and id < chr(128))
            or regexp_matches(id, '[^\s\x0B\x1C-\x1F\x85\p{Z}]') then id
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
    user_key varchar,
    item_key varchar,
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
        when user_key is null then 'user'
        when item_key is null then 'item'
        when rating is null then 'rating'
        else 'ts'
    end as bad_field
from loaded_events
where user_key is null or item_key is null or rating is null or ts is null;

-- Later steps read `events`; the view adds the file row number (0-based, data
-- rows only) that breaks timestamp ties.
create or replace view events as
select rowid as file_row, *
from loaded_events;

-- The ids that the filter keeps, with their hashes: every id of `events`.
-- 04_filter_k_core.sql filters `events` itself; 04_filter_single_pass.sql
-- replaces these views with tables.
create or replace view kept_users as
select user_key, hash(user_key) as user_hash
from events
group by user_key;

create or replace view kept_items as
select item_key, hash(item_key) as item_hash
from events
group by item_key;

-- Users whose interactions step 11 streams after the kept users', unnumbered:
-- only 04_filter_single_pass.sql fills it (its first pass kept them, its second
-- dropped them), so that the first pass's item count can be taken there.
create or replace table first_pass_dropped_users (
    user_hash ubigint
);

-- Pairs of distinct ids with one hash, one row per repeated hash: the joins on
-- hashes would merge them, so the runner stops when any is listed. Step 4
-- (single_pass) lists the items here, before its user counts rely on them.
-- Any other shared hash would make step 11 stream more rows than the filter
-- counted, which the runner also refuses, naming the ids (no two ids sharing a
-- hash ever make it stream fewer).
create or replace table hash_collisions (
    kind varchar,
    first_id varchar,
    second_id varchar
);
