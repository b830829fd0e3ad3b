-- Step 4 (single_pass): drop users left with fewer than $min_presence interactions
-- after step 3. Items are not re-counted, as in the reference preprocessing.
create or replace table kept_events as
with kept_users as (
    select user_hash
    from events
    group by user_hash
    having count(*) >= $min_presence
),

final as (
    select events.*
    from events
    semi join kept_users using (user_hash)
)

select * from final;

create or replace view events as
select *
from kept_events;

drop table filtered_events;
