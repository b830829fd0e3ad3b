-- Step 12, the last: write the id maps (with any features) as Parquet into the
-- staging folder. The runner then writes sequences.parquet from step 11's stream
-- and renames the folder into place only after every file is done.
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
