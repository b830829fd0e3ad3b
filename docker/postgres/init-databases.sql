-- One role and one database each for Prefect and MLflow, so neither service
-- can touch the other's tables. The official postgres image runs this once,
-- on the first start of an empty data volume; the passwords come from the
-- container environment (compose.yaml), read with psql's \getenv.

\getenv prefect_password PREFECT_DB_PASSWORD
\getenv mlflow_password MLFLOW_DB_PASSWORD

create role prefect with login password :'prefect_password';
create database prefect owner prefect;

create role mlflow with login password :'mlflow_password';
create database mlflow owner mlflow;
