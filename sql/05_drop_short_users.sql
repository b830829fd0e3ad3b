-- Step 5 (single_pass): drop users left with fewer than $min_presence interactions
-- after step 4. Items are not re-counted, as in the reference preprocessing.
create or replace table events as
with kept_users as (
    select user_code
    from events
    group by user_code
    having count(*) >= $min_presence
),

final as (
    select events.*
    from events
    semi join kept_users using (user_code)
)

select * from final;
