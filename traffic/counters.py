"""The shared counters in Redis: one Lua script per call, run atomically by Redis.

The script reads the clock of Redis (TIME), so gateway nodes whose clocks disagree still
agree on every window: the rate is a GCRA (generic cell rate algorithm: one stored
number, the theoretical arrival time of the next call), the quotas fixed windows per UTC
day and calendar month. A refused call counts against nothing. Keys of one subject share
a hash tag, so the script also runs on Redis Cluster.

The control plane (traffic/usage.py) reads the same keys to show usage.
"""

import datetime
import hashlib

from django.conf import settings

# KEYS[1]: rate state (theoretical arrival time, in µs since the epoch);
# KEYS[2], KEYS[3]: prefixes of the day and month counters (the window is appended).
# ARGV: interval µs, tolerance µs, daily quota, monthly quota (0: none).
# Reply: {allowed, refused_by (0 none, 1 rate, 2 day, 3 month), retry_after_ms,
#         rate_remaining (-1: no rate), rate_reset_ms, day_used, day_reset_s,
#         month_used, month_reset_s}
SCRIPT = """
local t = redis.call('TIME')
local secs = tonumber(t[1])
local now = secs * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local day_limit = tonumber(ARGV[3])
local month_limit = tonumber(ARGV[4])
local day = math.floor(secs / 86400)
local day_reset = (day + 1) * 86400 - secs
local day_key = KEYS[2] .. ':' .. day
local month_key, month_reset = nil, 0
local day_used, month_used = 0, 0
if month_limit > 0 then
  -- civil date of `day` and the first day of the next month (H. Hinnant's algorithms)
  local z = day + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  local ny, nm = y, m + 1
  if nm == 13 then ny, nm = y + 1, 1 end
  local yy = nm <= 2 and ny - 1 or ny
  local era2 = math.floor(yy / 400)
  local yoe2 = yy - era2 * 400
  local mm = nm > 2 and nm - 3 or nm + 9
  local doe2 = yoe2 * 365 + math.floor(yoe2 / 4) - math.floor(yoe2 / 100)
    + math.floor((153 * mm + 2) / 5)
  month_reset = (era2 * 146097 + doe2 - 719468) * 86400 - secs
  month_key = KEYS[3] .. ':' .. (y * 100 + m)
  month_used = tonumber(redis.call('GET', month_key) or '0')
end
if day_limit > 0 then
  day_used = tonumber(redis.call('GET', day_key) or '0')
end
if day_limit > 0 and day_used >= day_limit then
  return {0, 2, day_reset * 1000, -1, 0, day_used, day_reset, month_used, month_reset}
end
if month_limit > 0 and month_used >= month_limit then
  return {0, 3, month_reset * 1000, -1, 0, day_used, day_reset, month_used, month_reset}
end
local remaining, reset_ms = -1, 0
if interval > 0 then
  local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tat < now then tat = now end
  local next_tat = tat + interval
  local allow_at = next_tat - tolerance
  if now < allow_at then
    return {0, 1, math.ceil((allow_at - now) / 1000), 0, math.ceil((tat - now) / 1000),
      day_used, day_reset, month_used, month_reset}
  end
  redis.call('SET', KEYS[1], string.format('%.0f', next_tat),
    'PX', math.ceil((next_tat - now) / 1000) + 1000)
  remaining = math.floor((now + tolerance - next_tat) / interval)
  reset_ms = math.ceil((next_tat - now) / 1000)
end
if day_limit > 0 then
  day_used = redis.call('INCR', day_key)
  if day_used == 1 then redis.call('EXPIRE', day_key, day_reset + 3600) end
end
if month_limit > 0 then
  month_used = redis.call('INCR', month_key)
  if month_used == 1 then redis.call('EXPIRE', month_key, month_reset + 86400) end
end
return {1, 0, 0, remaining, reset_ms, day_used, day_reset, month_used, month_reset}
"""
SCRIPT_SHA = hashlib.sha1(SCRIPT.encode()).hexdigest()  # noqa: S324 - Redis names scripts so

RATE, DAY, MONTH = 1, 2, 3


def subject_keys(api_id: int, subject: str) -> tuple[str, str, str]:
    """Rate state, day-counter prefix and month-counter prefix of one subject on one API.

    `subject` is "app:<id>" or "addr:<client address>"; addresses are hashed, so no client
    input reaches a key name as it is.
    """
    if subject.startswith("addr:"):
        subject = "addr:" + hashlib.sha256(subject.encode()).hexdigest()[:24]
    prefix = settings.CACHES["default"].get("KEY_PREFIX") or "gatekeep"
    base = f"{prefix}:rl:{{{api_id}:{subject}}}"
    return f"{base}:r", f"{base}:d", f"{base}:m"


def application_subject(application_id: int) -> str:
    return f"app:{application_id}"


def address_subject(address: str) -> str:
    return f"addr:{address}"


def day_window(seconds: float) -> int:
    return int(seconds // 86400)


def month_window(seconds: float) -> int:
    moment = datetime.datetime.fromtimestamp(int(seconds), datetime.UTC)
    return moment.year * 100 + moment.month
