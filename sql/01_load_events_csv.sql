-- Step 1 (CSV sources; 01_load_events_parquet.sql is the alternative): load a
-- delimited ratings file into step 0's `loaded_events`, one row per line, through
-- step 0's checks. Fields arrive named by role (user_key, item_key, rating, ts;
-- others unused_<n>) through the bound $columns struct. With $integer_ids, an id
-- that is not a plain integer is a bad value. A file without ratings gets rating
-- 1.0. Lines that fail to parse go to the reject_errors table with
-- their byte offset.
set preserve_insertion_order = true;

insert into loaded_events
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

final as (
    select
        checked_id(case when $integer_ids then plain_integer(user_key) else user_key end)
            as user_key,
        checked_id(case when $integer_ids then plain_integer(item_key) else item_key end)
            as item_key,
        finite_or_null(cast(struct_extract(candidates, 1) as float)) as rating,
        whole_seconds(ts) as ts
    from with_candidates
)

select * from final;

set preserve_insertion_order = false;
