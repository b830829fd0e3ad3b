-- Step 8 (with step 7): user features as int32 codes on `user_map`. Each code is
-- the 1-based rank of the value among the file's distinct values, so it is the
-- same on every machine (never a process-dependent hash). 0 means unknown: a
-- user without a line in the file.
create or replace table user_map as
with coded_users as (
    select
        user_key,
        cast(dense_rank() over (order by sex) as integer) as sex,
        cast(dense_rank() over (order by age_group) as integer) as age_group,
        cast(dense_rank() over (order by occupation) as integer) as occupation,
        cast(dense_rank() over (order by zip) as integer) as zip_code
    from parsed_users
),

final as (
    select
        user_map.*,
        coalesce(coded_users.sex, 0) as sex,
        coalesce(coded_users.age_group, 0) as age_group,
        coalesce(coded_users.occupation, 0) as occupation,
        coalesce(coded_users.zip_code, 0) as zip_code
    from user_map
    left join coded_users
        on user_map.original_id = coded_users.user_key
)

select * from final;

drop table parsed_users;
