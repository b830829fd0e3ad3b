-- Step 3 (optional, --dedup): keep one interaction per (user, item): the earliest,
-- and of equal timestamps the first in the file.
create or replace table deduplicated_events as
with deduplicated as (
    select *
    from events
    qualify row_number() over (
        partition by user_key, item_key
        order by ts, file_row
    ) = 1
)

select * from deduplicated;

create or replace view events as
select *
from deduplicated_events;

drop table loaded_events;
