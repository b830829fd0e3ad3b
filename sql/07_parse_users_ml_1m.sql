-- Step 7 (ML-1M; 07_parse_users_ml_100k.sql is the alternative): read users.dat
-- (UserID::Gender::Age::Occupation::Zip-code) into `parsed_users`. Age is already
-- one of ML-1M's groups (1, 18, 25, 35, 45, 50, 56) and occupation a number 0-20.
-- Lines that do not parse go to `side_file_rejects`; the runner reports them.
create or replace table parsed_users as
with final as (
    select user_key, sex, age as age_group, occupation, zip
    from read_csv(
        $path,
        columns = {
            'user_key': 'VARCHAR',
            'sex': 'VARCHAR',
            'age': 'INTEGER',
            'occupation': 'INTEGER',
            'zip': 'VARCHAR'
        },
        delim = '::',
        quote = '',
        escape = '',
        header = false,
        encoding = $encoding,
        auto_detect = false,
        store_rejects = true,
        rejects_table = 'side_file_rejects',
        rejects_scan = 'side_file_scans'
    )
)

select * from final;
