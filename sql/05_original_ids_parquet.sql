-- Step 5 (Parquet sources; 05_original_ids_csv.sql is the alternative): the
-- distinct original ids of the registered Arrow table `source_rows` with their
-- hashes, as in 05_original_ids_csv.sql.
create or replace table original_ids as
with distinct_keys as (
    select cast(user_key as varchar) as user_key, cast(item_key as varchar) as item_key
    from source_rows
    group by grouping sets ((user_key), (item_key))
),

final as (
    select
        user_key is not null as is_user,
        coalesce(user_key, item_key) as original_id,
        hash(coalesce(user_key, item_key)) as key_hash
    from distinct_keys
    where trim(coalesce(user_key, item_key)) <> ''
)

select * from final;
