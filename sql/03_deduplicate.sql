-- Step 3 (optional): keep one interaction per (user, item): the earliest, and of
-- equal timestamps the first in the file.
create or replace table events as
with deduplicated as (
    select *
    from events
    qualify row_number() over (
        partition by user_code, item_code
        order by ts, file_row
    ) = 1
)

select * from deduplicated;
