-- Step 12, the last: write the id maps (with any features) as Parquet into the
-- staging folder. The runner then writes sequences.parquet from step 11's stream
-- and renames the folder into place only after every file is done.
-- `rated_items` (registered by the runner) holds the item ids that step 11's
-- kept interactions use: after a single_pass filter, some kept items may have
-- lost every user, and the items left are numbered 1..N again, in the same
-- order, as the runner renumbers them in the stream.
copy (
    with rated as (
        select item_map.*
        from item_map
        semi join rated_items using (item_id)
    ),

    final as (
        select
            cast(row_number() over (order by item_id) as integer) as item_id,
            * exclude (item_id, item_hash)
        from rated
    )

    select * from final
    order by item_id
) to $items_path (format parquet);

copy (
    select * exclude (user_hash)
    from user_map
    order by user_id
) to $users_path (format parquet);
