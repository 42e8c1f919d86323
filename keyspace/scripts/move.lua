-- Moves up to ARGV[2] members whose score is at most ARGV[1] from KEYS[1] to
-- KEYS[2] with score ARGV[3], keeping a score already in KEYS[2] (NX).
-- Returns how many moved. (Expired leases back to their queue; due users
-- back to the change feed.)
local zs = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, u in ipairs(zs) do
  redis.call('ZREM', KEYS[1], u)
  redis.call('ZADD', KEYS[2], 'NX', ARGV[3], u)
end
return #zs
