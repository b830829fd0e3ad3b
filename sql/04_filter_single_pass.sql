-- Step 4 (single_pass; 04_filter_k_core.sql is the alternative): the reference
-- filter as kept-id sets, without copying the events. Its first pass keeps an
-- interaction when both its user and its item have at least $min_presence
-- interactions; users left with fewer than $min_presence are then dropped, and
-- items are not re-counted. A user with k interactions on kept items had at least
-- k to begin with, so the users that survive both passes are exactly those with k
-- interactions on kept items.
-- `kept_users` and `kept_items` replace step 1's views; the id maps of step 6 hold
-- only these ids, so the joins of step 11 apply the filter to `events`.
create or replace table item_presence as
select item_hash, count(*) as num_interactions
from events
group by item_hash;

create or replace table user_presence as
with frequent_items as (
    select item_hash
    from item_presence
    where num_interactions >= $min_presence
),

final as (
    select
        events.user_hash,
        count(*) as num_interactions,
        count(frequent_items.item_hash) as num_on_frequent_items
    from events
    left join frequent_items using (item_hash)
    group by events.user_hash
)

select * from final;

-- Per frequent item: reached by a user of the first pass, and by a kept user.
create or replace table item_reach as
with first_pass_users as (
    select user_hash, num_on_frequent_items >= $min_presence as is_kept
    from user_presence
    where num_interactions >= $min_presence
),

frequent_items as (
    select item_hash
    from item_presence
    where num_interactions >= $min_presence
),

final as (
    select events.item_hash, bool_or(first_pass_users.is_kept) as is_kept
    from events
    join first_pass_users using (user_hash)
    semi join frequent_items using (item_hash)
    group by events.item_hash
)

select * from final;

drop view kept_users;
drop view kept_items;

create table kept_users as
select user_hash
from user_presence
where num_on_frequent_items >= $min_presence;

create table kept_items as
select item_hash
from item_reach
where is_kept;

-- The counts before the filter (pass 0) and after each of its two passes, for
-- stats.json. Pass 0 comes from the presence tables: no count-distinct query.
create or replace table filter_counts as
with before_filter as (
    select
        0 as pass,
        coalesce(sum(num_interactions), 0) as interactions,
        count(*) as users,
        (select count(*) from item_presence) as items
    from user_presence
),

first_pass as (
    select
        1 as pass,
        coalesce(sum(num_on_frequent_items), 0) as interactions,
        count(*) filter (where num_on_frequent_items > 0) as users
    from user_presence
    where num_interactions >= $min_presence
),

second_pass as (
    select
        2 as pass,
        coalesce(sum(num_on_frequent_items), 0) as interactions,
        count(*) as users
    from user_presence
    where num_on_frequent_items >= $min_presence
),

reached_items as (
    select count(*) as first_pass_items, count(*) filter (where is_kept) as kept_items
    from item_reach
),

final as (
    select pass, interactions, users, items
    from before_filter
    union all
    select pass, interactions, users, first_pass_items as items
    from first_pass, reached_items
    union all
    select pass, interactions, users, kept_items as items
    from second_pass, reached_items
)

select pass, cast(interactions as bigint) as interactions, users, items
from final;

drop table item_presence;
drop table user_presence;
drop table item_reach;

select interactions, users, items
from filter_counts
order by pass;
