#!/bin/sh
# Start a Prefect process worker for genrec flows (compose.yaml's `worker` and
# `worker-cpu` services). Before polling, it makes sure the work pool exists
# and registers the deployments of docker/prefect.yaml on it, so the nightly
# run is scheduled as soon as the stack is up.
#
# Environment:
#   PREFECT_API_URL              the Prefect server (required)
#   PREFECT_WORK_POOL            work pool to poll (required)
#   PREFECT_WORKER_NAME          worker name (default: the container host name)
#   GENREC_WORKER_LIMIT          concurrent flow runs (default 1: one run owns
#                                all GPUs of the container)
#   GENREC_REGISTER_DEPLOYMENTS  `false` skips the registration
set -eu

: "${PREFECT_API_URL:?PREFECT_API_URL must point at the Prefect server}"
: "${PREFECT_WORK_POOL:?PREFECT_WORK_POOL must name the work pool to poll}"
here=$(cd "$(dirname "$0")" && pwd)

if ! prefect work-pool inspect "$PREFECT_WORK_POOL" >/dev/null 2>&1; then
    prefect work-pool create "$PREFECT_WORK_POOL" --type process
fi

if [ "${GENREC_REGISTER_DEPLOYMENTS:-true}" = "true" ]; then
    # prefect.yaml's pull step sets the working directory of each flow run.
    (cd "$here/.." && prefect --no-prompt deploy --all --prefect-file "$here/prefect.yaml")
fi

exec prefect worker start \
    --pool "$PREFECT_WORK_POOL" \
    --type process \
    --name "${PREFECT_WORKER_NAME:-$(hostname)}" \
    --limit "${GENREC_WORKER_LIMIT:-1}" \
    --with-healthcheck
