-- Step 7 (ML-100K; 07_parse_users_ml_1m.sql is the alternative): read u.user
-- (user id|age|gender|occupation|zip code) into `parsed_users`. Ages in years are
-- put into ML-1M's groups, each named by its lowest age as ML-1M names them
-- (under 18 is 1, then 18, 25, 35, 45, 50, 56), so both datasets code alike.
-- Lines that do not parse go to `side_file_rejects`; the runner reports them.
create or replace table parsed_users as
with raw_users as (
    select *
    from read_csv(
        $path,
        columns = {
            'user_key': 'VARCHAR',
            'age': 'INTEGER',
            'sex': 'VARCHAR',
            'occupation': 'VARCHAR',
            'zip': 'VARCHAR'
        },
        delim = '|',
        quote = '',
        escape = '',
        header = false,
        encoding = $encoding,
        auto_detect = false,
        store_rejects = true,
        rejects_table = 'side_file_rejects',
        rejects_scan = 'side_file_scans'
    )
),

final as (
    select
        user_key,
        sex,
        case
            when age < 18 then 1
            when age < 25 then 18
            when age < 35 then 25
            when age < 45 then 35
            when age < 50 then 45
            when age < 56 then 50
            when age >= 56 then 56
        end as age_group,
        occupation,
        zip
    from raw_users
)

select * from final;
