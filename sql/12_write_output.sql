-- Step 12, the last: write the output files as Parquet into the staging folder,
-- which the runner renames into place only after every file is done.
-- `rated_items` and `sequences` are Arrow tables the runner registers:
-- - rated_items: the item ids that step 11's kept interactions use. After a
--   single_pass filter some kept items may have lost every user; the items left
--   are numbered 1..N again, in the same order, as the runner renumbered them in
--   the stream.
-- - sequences: one row of lists per user, cut from step 11's stream. DuckDB
--   writes its row groups on every thread (pyarrow's writer takes one core, 0.85 s
--   against 0.5 s for 1.5M users); file order is kept.
-- The events are read no more: dropping them first lowers the memory that the
-- writes below add to.
drop view events;
drop table if exists loaded_events;
drop table if exists deduplicated_events;
drop table if exists filtered_events;

create or replace table item_map as
with rated as (
    select item_map.*
    from item_map
    semi join rated_items using (item_id)
),

final as (
    select
        cast(row_number() over (order by item_id) as integer) as item_id,
        * exclude (item_id)
    from rated
)

select * from final;

-- From a table, not from the query above: the file's item_id is then
-- non-nullable, as every other id column of the output.
copy (
    select * exclude (item_hash)
    from item_map
    order by item_id
) to $items_path (format parquet);

copy (
    select * exclude (user_hash)
    from user_map
    order by user_id
) to $users_path (format parquet);

set preserve_insertion_order = true;

copy sequences to $sequences_path (format parquet, row_group_size 100000);

set preserve_insertion_order = false;
