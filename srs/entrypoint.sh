#!/bin/sh
# SRS's entrypoint in compose.yaml: points SRS's http_hooks at the stream service with
# the hook secret, then runs the command it is given (./objs/srs -c ...).
#
# The secret is read from the file STREAM_HOOK_SECRET_FILE names (a compose secret,
# the same one the stream service reads) and handed to SRS as SRS_VHOST_HTTP_HOOKS_ON_*:
# SRS 5 and later read those over the file's http_hooks (srs_app_config.cpp,
# SRS_OVERWRITE_BY_ENV_DIRECTIVE), so neither srs.conf nor compose.yaml holds it, and
# `docker inspect` shows only the file's path.
#
#   ROOMCAST_HOOKS_URL       the stream service's hook base, e.g. http://stream:8085/api/srs/hooks
#   STREAM_HOOK_SECRET_FILE  the file holding the secret (16 to 128 letters, digits, _ or -)
set -eu

: "${ROOMCAST_HOOKS_URL:?ROOMCAST_HOOKS_URL: the stream service hook base URL is not set}"
: "${STREAM_HOOK_SECRET_FILE:?STREAM_HOOK_SECRET_FILE: the hook secret file is not set}"

if [ ! -r "$STREAM_HOOK_SECRET_FILE" ]; then
  echo "srs entrypoint: cannot read the hook secret file $STREAM_HOOK_SECRET_FILE" >&2
  exit 78
fi
secret=$(tr -d '\r\n' < "$STREAM_HOOK_SECRET_FILE")
# The stream service refuses such a secret at start (config/stream.settings.ts): every
# hook would then be refused, so SRS refuses to start with it too.
case "$secret" in
  CHANGE_ME_HOOK_SECRET | *[!A-Za-z0-9_-]*)
    echo "srs entrypoint: the hook secret in $STREAM_HOOK_SECRET_FILE is the placeholder or not URL-safe" >&2
    exit 78
    ;;
esac
if [ "${#secret}" -lt 16 ] || [ "${#secret}" -gt 128 ]; then
  echo "srs entrypoint: the hook secret in $STREAM_HOOK_SECRET_FILE is not 16 to 128 characters" >&2
  exit 78
fi

base=${ROOMCAST_HOOKS_URL%/}/$secret
export SRS_VHOST_HTTP_HOOKS_ENABLED=on
export SRS_VHOST_HTTP_HOOKS_ON_PUBLISH="$base/on_publish"
export SRS_VHOST_HTTP_HOOKS_ON_UNPUBLISH="$base/on_unpublish"
export SRS_VHOST_HTTP_HOOKS_ON_PLAY="$base/on_play"
export SRS_VHOST_HTTP_HOOKS_ON_STOP="$base/on_stop"
unset secret base
exec "$@"
