#!/bin/sh
# Start one member of the Redis HA set of docker-compose.yml (profile "ha"):
#
#   ha-node.sh redis      a Redis node: master or replica
#   ha-node.sh sentinel   a Sentinel watching them
#
# Whoever (re)starts asks the sentinels which node is master now, and only on
# the very first start, when no sentinel answers yet, takes REDIS_INITIAL_MASTER.
# A master without persistence that restarted as master would come back empty
# and its replicas would copy the empty data set (Redis's Sentinel documentation
# warns of this); a sentinel that restarted watching the old master would see a
# replica and could promote it back.
#
# Members know each other by address, not by name: a sentinel resolves names
# synchronously, and a name that stops resolving (a killed container's) held
# sentinels here for up to 20 s each, long enough for the others to count
# them, and the replica, as down and abort the failover. A restarted member
# gets a new address; the sentinels learn it from the master.
#
#   REDIS_NODE_NAME        this member's name on the network
#   REDIS_INITIAL_MASTER   the node that is master on the first start
#   REDIS_MASTER_NAME      the name clients ask the sentinels for (REDIS_SENTINEL_MASTER)
#   REDIS_SENTINEL_HOSTS   the sentinels ("host host ..."), port 26379
#   REDIS_SENTINEL_QUORUM  sentinels that must agree the master is down
#   REDIS_SENTINEL_DOWN_AFTER_MS  how long the master may not answer before that
set -eu

current_master() {
    for sentinel in $REDIS_SENTINEL_HOSTS; do
        [ "$sentinel" = "$REDIS_NODE_NAME" ] && continue
        answer=$(redis-cli -h "$sentinel" -p 26379 --raw \
            sentinel get-master-addr-by-name "$REDIS_MASTER_NAME" 2>/dev/null \
            | head -n 1) || true
        if [ -n "$answer" ]; then
            echo "$answer"
            return
        fi
    done
    address_of "$REDIS_INITIAL_MASTER"
}

address_of() {
    getent hosts "$1" | awk '{ print $1; exit }'
}

start_redis() {
    master=$(current_master)
    # No snapshots: the channel layer holds only messages in flight. No password
    # here, so protected mode would refuse the other containers.
    set -- --save "" --appendonly no --protected-mode no
    if [ "$master" = "$(address_of "$REDIS_NODE_NAME")" ]; then
        echo "ha-node: $REDIS_NODE_NAME starts as the master"
    else
        echo "ha-node: $REDIS_NODE_NAME starts as a replica of $master"
        set -- "$@" --replicaof "$master" 6379
    fi
    # The image's entrypoint drops root and runs redis-server as redis.
    exec docker-entrypoint.sh redis-server "$@"
}

start_sentinel() {
    master=$(current_master)
    echo "ha-node: sentinel $REDIS_NODE_NAME watches $master"
    # Sentinel rewrites its file as it learns the set: a fresh one, which the
    # redis user may write.
    config=/tmp/sentinel.conf
    cat > "$config" <<CONF
port 26379
protected-mode no
sentinel monitor $REDIS_MASTER_NAME $master 6379 $REDIS_SENTINEL_QUORUM
sentinel down-after-milliseconds $REDIS_MASTER_NAME $REDIS_SENTINEL_DOWN_AFTER_MS
sentinel failover-timeout $REDIS_MASTER_NAME 20000
CONF
    chown redis "$config"
    exec docker-entrypoint.sh redis-server "$config" --sentinel
}

case "${1:-}" in
    redis) start_redis ;;
    sentinel) start_sentinel ;;
    *) echo "usage: ha-node.sh redis|sentinel" >&2; exit 2 ;;
esac
