# shellcheck shell=bash
# Services the test suite needs: a private PostgreSQL server.
#
# Sourced by .ci/run before the tests:      source .ci/services.sh
#   -> installs PostgreSQL from the Debian packages if it is missing (as root:
#      apt-get update, then apt-get install -y postgresql), starts a private
#      server owned by the `postgres` user on 127.0.0.1 and a free port, with
#      its data in $CCDCAL_PG_DIR (default ${TMPDIR:-/tmp}/ccdcal-ci-postgres),
#      creates the database `ccdcal_test` and exports
#      CCDCAL_TEST_POSTGRES_URL=postgresql+psycopg2://postgres@127.0.0.1:PORT/ccdcal_test
# Run directly:   bash .ci/services.sh [start|stop|status]
#   start prints the export line; stop shuts the private server down.
#
# Idempotent: a second call reuses the running server (same port, same data);
# a stopped server is started again on a free port.  The server trusts
# connections from the loopback interface only and runs with fsync off: it is
# a throw-away test database, never a place for real data.

_ccdcal_pg_log() { printf 'services.sh: %s\n' "$*" >&2; }

# Directory holding the newest installed PostgreSQL server binaries.
_ccdcal_pg_bindir() {
    local dir
    dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null \
        | sort -V | tail -n 1)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
        printf '%s\n' "$dir"
    fi
}

_ccdcal_pg_install() {
    if [ -n "$(_ccdcal_pg_bindir)" ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        _ccdcal_pg_log "PostgreSQL is not installed and we are not root:" \
            "install the Debian package 'postgresql' (apt-get install postgresql), then retry"
        return 1
    fi
    _ccdcal_pg_log "installing PostgreSQL from the Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null || return 1
    apt-get install -y -q --no-install-recommends postgresql >/dev/null || return 1
    if [ -z "$(_ccdcal_pg_bindir)" ]; then
        _ccdcal_pg_log "apt-get installed postgresql but no server binaries were found" \
            "under /usr/lib/postgresql/*/bin"
        return 1
    fi
}

# Run a command as the database owner: `postgres` when we are root (initdb
# refuses to run as root), ourselves otherwise.
_ccdcal_pg_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

_ccdcal_pg_free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

_ccdcal_pg_start() {
    local bindir base data port opts url
    _ccdcal_pg_install || return 1
    bindir=$(_ccdcal_pg_bindir)
    base=${CCDCAL_PG_DIR:-${TMPDIR:-/tmp}/ccdcal-ci-postgres}
    data="$base/data"
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
        _ccdcal_pg_log "the 'postgres' system user is missing; reinstall the postgresql package"
        return 1
    fi
    mkdir -p "$base" || return 1
    chmod 700 "$base"
    if [ "$(id -u)" -eq 0 ]; then
        # -R: a reinstalled package may have given `postgres` a new uid.
        chown -R postgres: "$base" || return 1
    fi

    if [ ! -s "$data/PG_VERSION" ]; then
        _ccdcal_pg_log "initdb $data"
        _ccdcal_pg_as_owner "$bindir/initdb" -D "$data" -U postgres --auth=trust \
            --encoding=UTF8 --no-locale >"$base/initdb.log" 2>&1 || {
            cat "$base/initdb.log" >&2
            return 1
        }
    fi

    if _ccdcal_pg_as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1 \
        && [ -s "$base/port" ]; then
        port=$(cat "$base/port")
        _ccdcal_pg_log "reusing the running server on port $port"
    else
        port=$(_ccdcal_pg_free_port) || return 1
        opts="-p $port -k $base -c listen_addresses=127.0.0.1 -c fsync=off"
        opts="$opts -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        _ccdcal_pg_log "starting PostgreSQL ($bindir) on 127.0.0.1:$port"
        _ccdcal_pg_as_owner "$bindir/pg_ctl" -D "$data" -l "$base/server.log" -w -t 60 \
            -o "$opts" start >/dev/null || {
            tail -n 30 "$base/server.log" >&2
            return 1
        }
        printf '%s\n' "$port" >"$base/port.tmp" && mv "$base/port.tmp" "$base/port"
    fi

    if [ "$("$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'ccdcal_test'")" != "1" ]; then
        "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres ccdcal_test || return 1
    fi
    url="postgresql+psycopg2://postgres@127.0.0.1:$port/ccdcal_test"
    export CCDCAL_TEST_POSTGRES_URL="$url"
    _ccdcal_pg_log "CCDCAL_TEST_POSTGRES_URL=$url"
}

_ccdcal_pg_stop() {
    local bindir base
    bindir=$(_ccdcal_pg_bindir)
    base=${CCDCAL_PG_DIR:-${TMPDIR:-/tmp}/ccdcal-ci-postgres}
    if [ -z "$bindir" ] || [ ! -s "$base/data/PG_VERSION" ]; then
        _ccdcal_pg_log "no private server in $base"
        return 0
    fi
    _ccdcal_pg_as_owner "$bindir/pg_ctl" -D "$base/data" -m fast -w stop || true
    rm -f "$base/port"
}

_ccdcal_pg_status() {
    local bindir base
    bindir=$(_ccdcal_pg_bindir)
    base=${CCDCAL_PG_DIR:-${TMPDIR:-/tmp}/ccdcal-ci-postgres}
    if [ -n "$bindir" ] && [ -s "$base/data/PG_VERSION" ]; then
        _ccdcal_pg_as_owner "$bindir/pg_ctl" -D "$base/data" status
    else
        echo "no private server in $base"
        return 3
    fi
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    # Sourced (by .ci/run): start and export, failing the caller if that fails.
    _ccdcal_pg_start
else
    case "${1:-start}" in
        start) _ccdcal_pg_start && echo "export CCDCAL_TEST_POSTGRES_URL=$CCDCAL_TEST_POSTGRES_URL" ;;
        stop) _ccdcal_pg_stop ;;
        status) _ccdcal_pg_status ;;
        *)
            echo "usage: bash .ci/services.sh [start|stop|status]   (or: source .ci/services.sh)" >&2
            exit 2
            ;;
    esac
fi
