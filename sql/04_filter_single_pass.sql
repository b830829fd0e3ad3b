-- Step 4 (single_pass; 04_filter_k_core.sql is the alternative): the reference
-- filter as kept-id sets, without copying the events. Its first pass keeps an
-- interaction when both its user and its item have at least $min_presence
-- interactions; users left with fewer than $min_presence are then dropped, and
-- items are not re-counted. A user with k interactions on kept items had at least
-- k to begin with, so the users that survive both passes are exactly those with k
-- interactions on kept items.
-- `kept_users` and `kept_items` replace step 0's views; the id maps of step 6 hold
-- only these ids, so the joins of step 11 apply the filter to `events`. The kept
-- items are the frequent ones: those that no kept user rated (and, for the first
-- pass's count, no user of the first pass) are found in step 11's stream, whose
-- item ids the runner then renumbers. That costs no pass over the events here.
create or replace table item_presence as
select item_key, hash(item_key) as item_hash, count(*) as num_interactions
from events
group by item_key;

-- Matching items by hash is exact while no two items share one: this step lists
-- any that do (below), and the runner stops before step 6.
-- The events are matched against the rare items, not the frequent ones: fewer of
-- them find their item there, and a probe that finds nothing costs less (1.2 s
-- against 1.4 s at 20M rows, where 92% of the events rate a frequent item).
create or replace table user_presence as
with rare_items as (
    select item_hash
    from item_presence
    where num_interactions < $min_presence
),

final as (
    select
        events.user_key,
        count(*) as num_interactions,
        count(*) - count(rare_items.item_hash) as num_on_frequent_items
    from events
    left join rare_items
        on hash(events.item_key) = rare_items.item_hash
    group by events.user_key
)

select user_key, hash(user_key) as user_hash, * exclude (user_key)
from final;

-- Every item of `events` is in item_presence once: a hash repeated there is one
-- that two distinct items share. (The repeated hashes are found first: taking
-- the strings of every group would cost a second per million items.) Users need
-- no such list: step 11 would stream more rows than this step counted.
insert into hash_collisions
with repeated as (
    select item_hash
    from item_presence
    group by item_hash
    having count(*) > 1
)

select 'item' as kind, min(item_key) as first_id, max(item_key) as second_id
from item_presence
semi join repeated using (item_hash)
group by item_hash;

drop view kept_users;
drop view kept_items;

create table kept_users as
select user_key, user_hash
from user_presence
where num_on_frequent_items >= $min_presence;

create table kept_items as
select item_key, item_hash
from item_presence
where num_interactions >= $min_presence;

insert into first_pass_dropped_users
select user_hash
from user_presence
where num_interactions >= $min_presence
    and num_on_frequent_items between 1 and $min_presence - 1;

-- The counts before the filter (pass 0) and after each of its two passes, for
-- stats.json. Pass 0 comes from the presence tables: no count-distinct query.
-- The items of passes 1 and 2 are NULL here: the runner counts them in step 11's
-- stream.
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

final as (
    select pass, interactions, users, items
    from before_filter
    union all
    select pass, interactions, users, null as items
    from first_pass
    union all
    select pass, interactions, users, null as items
    from second_pass
)

select pass, cast(interactions as bigint) as interactions, users, items
from final;

drop table item_presence;
drop table user_presence;

select interactions, users, items
from filter_counts
order by pass;
