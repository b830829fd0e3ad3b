-- Step 12: number the items that step 11's kept interactions rate 1..N, in
-- ascending original-id order as step 6 numbers users: numeric when every one
-- is an integer (optional minus, at most 38 digits), else text, which is step
-- 6's provisional order. `rated_items` (registered by the runner) holds their
-- provisional ids: after a single_pass filter some frequent items may have lost
-- every user. The runner renumbers step 11's stream from `provisional_id` to
-- `item_id`.
create or replace table item_map as
with rated as (
    select item_map.* rename (item_id as provisional_id)
    from item_map
    semi join rated_items
        on item_map.item_id = rated_items.item_id
),

numeric_check as (
    select bool_and(regexp_full_match(original_id, '-?[0-9]{1,38}')) as all_numeric
    from rated
),

by_text as (
    select cast(row_number() over (order by provisional_id) as integer) as item_id, *
    from rated
    where not (select all_numeric from numeric_check)
),

by_number as (
    select
        cast(row_number() over (
            order by try_cast(original_id as hugeint), original_id
        ) as integer) as item_id,
        *
    from rated
    where (select all_numeric from numeric_check)
),

final as (
    select * from by_text
    union all
    select * from by_number
)

select * from final;
