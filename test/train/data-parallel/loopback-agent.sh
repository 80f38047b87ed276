#!/bin/sh
# Stand-in for ssh in the --hostfile test (mpirun --mca plm_rsh_agent THIS): Open MPI calls it as
# `agent [ssh options] HOST COMMAND…` to start its daemon on HOST; the "hosts" are loopback addresses of this
# machine, so it drops the options and the host name (saying which) and runs the command here.
while [ "${1#-}" != "$1" ]; do shift; done
echo "loopback-agent: starting the daemon of host $1" >&2
shift
exec /bin/sh -c "$*"
