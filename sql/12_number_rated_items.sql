-- Step 12: number the items that step 11's kept interactions rate 1..N again.
-- `rated_items` (registered by the runner) holds their ids from step 6. Without
-- a single_pass filter they are all of step 6's items, numbered as step 6 did.
-- After it, some frequent items may have lost every user; the ones left keep
-- step 6's order, except when they are all integers and the items dropped were
-- not: then they are numbered by value, as step 6 would have numbered them.
-- The runner renumbers step 11's stream from `provisional_id` to `item_id`.
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

by_step_6 as (
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
    select * from by_step_6
    union all
    select * from by_number
)

select * from final;
