-- Step 4 (k_core; 04_filter_single_pass.sql is the alternative): one pass of the
-- presence filter: keep interactions whose user and item both have at least
-- $min_presence interactions in the current `events`. The runner repeats it until
-- a pass removes nothing, so every kept user and item has $min_presence or more.
create or replace table filtered_events as
with user_counts as (
    select user_key, count(*) as num_interactions
    from events
    group by user_key
),

item_counts as (
    select item_key, count(*) as num_interactions
    from events
    group by item_key
),

kept_users as (
    select user_key
    from user_counts
    where num_interactions >= $min_presence
),

kept_items as (
    select item_key
    from item_counts
    where num_interactions >= $min_presence
),

final as (
    select events.*
    from events
    semi join kept_users using (user_key)
    semi join kept_items using (item_key)
)

select * from final;

create or replace view events as
select *
from filtered_events;

drop table if exists loaded_events;
drop table if exists deduplicated_events;
