-- Step 9 (ML-100K; 09_parse_items_ml_1m.sql is the alternative): read u.item
-- (movie id|title|release date|video release date|IMDb URL|19 genre flags) into
-- `parsed_items`. The flags follow u.genre's order, and an item's genres are the
-- names of its set flags in that order. The year is the title's trailing
-- "(year)", else the release date's (dd-Mon-yyyy): one title ends "(1995) (V)".
-- Lines that do not parse go to `side_file_rejects`; the runner reports them.
create or replace table parsed_items as
with raw_items as (
    select *
    from read_csv(
        $path,
        columns = {
            'item_key': 'VARCHAR',
            'title': 'VARCHAR',
            'release_date': 'VARCHAR',
            'video_release_date': 'VARCHAR',
            'imdb_url': 'VARCHAR',
            'flag_01': 'INTEGER', 'flag_02': 'INTEGER', 'flag_03': 'INTEGER',
            'flag_04': 'INTEGER', 'flag_05': 'INTEGER', 'flag_06': 'INTEGER',
            'flag_07': 'INTEGER', 'flag_08': 'INTEGER', 'flag_09': 'INTEGER',
            'flag_10': 'INTEGER', 'flag_11': 'INTEGER', 'flag_12': 'INTEGER',
            'flag_13': 'INTEGER', 'flag_14': 'INTEGER', 'flag_15': 'INTEGER',
            'flag_16': 'INTEGER', 'flag_17': 'INTEGER', 'flag_18': 'INTEGER',
            'flag_19': 'INTEGER'
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

flagged_items as (
    select *, list_value(*columns('flag_\d+')) as flags
    from raw_items
),

final as (
    select
        item_key,
        title,
        coalesce(
            try_cast(regexp_extract(title, '\((\d{4})\)\s*$', 1) as integer),
            try_cast(regexp_extract(release_date, '-(\d{4})$', 1) as integer)
        ) as year,
        list_filter(
            [
                'unknown', 'Action', 'Adventure', 'Animation', 'Children''s',
                'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy', 'Film-Noir',
                'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller',
                'War', 'Western'
            ],
            lambda genre, position: flags[position] = 1
        ) as genre_names
    from flagged_items
)

select * from final;
