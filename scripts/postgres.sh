#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: Debian's server binaries, a cluster made with
# initdb in a folder of its own, listening on 127.0.0.1 at a free port with its socket in that
# folder, a superuser `usagedesk` with a random password (scram-sha-256, no trust), and fsync
# off (nothing in it outlives the run). It speaks TLS too, with a certificate for
# `localhost` from a CA made for the run (DIR/ca.pem): clients choose by their `sslmode`.
#
#   scripts/postgres.sh start DIR   creates and starts the cluster in DIR (which must not exist
#                                   or be empty) and prints its URL on stdout
#   scripts/postgres.sh stop DIR    stops it and removes DIR
#
# initdb and postgres refuse to run as root: as root, the cluster belongs to the `postgres`
# user that Debian's package creates. Needs the `postgresql` package (scripts/setup.sh).
set -euo pipefail

usage() {
  echo "usage: $0 start DIR | stop DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
dir=$2

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "error: no PostgreSQL server found under /usr/lib/postgresql: run scripts/setup.sh (package postgresql)" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    if [ -n "$(ls -A "$dir")" ]; then
      echo "error: $dir is not empty" >&2
      exit 1
    fi
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
    chmod 700 "$dir"
    password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    pwfile="$dir/pwfile"
    printf '%s\n' "$password" >"$pwfile"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$pwfile"
    as_owner "$bindir/initdb" --pgdata="$dir/data" --username=usagedesk --pwfile="$pwfile" \
      --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
      cat "$dir/initdb.log" >&2
      exit 1
    }
    rm -f "$pwfile"
    # A CA of the run's own and a server certificate for localhost (not 127.0.0.1, so a test
    # can see verify-full refuse a name the certificate does not hold).
    (
      cd "$dir"
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=UsageDesk test CA" -keyout ca.key -out ca.pem \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=localhost" -keyout data/server.key -out server.csr
      printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >server.ext
      openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile server.ext -out data/server.crt
      rm -f ca.key ca.srl server.csr server.ext
    ) >"$dir/tls.log" 2>&1 || {
      cat "$dir/tls.log" >&2
      exit 1
    }
    chmod 600 "$dir/data/server.key"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir/data/server.key" "$dir/data/server.crt"
    chmod 644 "$dir/ca.pem"
    as_owner "$bindir/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait --silent \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir \
          -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key \
          -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start || {
      cat "$dir/server.log" >&2
      exit 1
    }
    PGPASSWORD=$password "$bindir/psql" -qAt -h 127.0.0.1 -p "$port" -U usagedesk -d postgres \
      -c 'CREATE DATABASE usagedesk' >/dev/null
    echo "postgres://usagedesk:$password@127.0.0.1:$port/usagedesk"
    ;;
  stop)
    if [ -d "$dir/data" ]; then
      as_owner "$bindir/pg_ctl" --pgdata="$dir/data" --mode=immediate --wait --silent stop || true
    fi
    rm -rf "$dir"
    ;;
  *)
    usage
    ;;
esac
