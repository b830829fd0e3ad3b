-- Step 4: one pass of the presence filter: keep interactions whose user and item
-- both have at least $min_presence interactions in the current table.
-- single_pass runs it once then step 5; k_core repeats it to a fixed point.
create or replace table events as
with user_counts as (
    select user_code, count(*) as num_interactions
    from events
    group by user_code
),

item_counts as (
    select item_code, count(*) as num_interactions
    from events
    group by item_code
),

kept_users as (
    select user_code
    from user_counts
    where num_interactions >= $min_presence
),

kept_items as (
    select item_code
    from item_counts
    where num_interactions >= $min_presence
),

final as (
    select events.*
    from events
    semi join kept_users using (user_code)
    semi join kept_items using (item_code)
)

select * from final;
