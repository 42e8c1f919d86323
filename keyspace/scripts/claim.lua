-- Moves up to ARGV[2] members whose score is at most ARGV[1] from the queue
-- KEYS[1] to its in-flight set KEYS[2] with the lease deadline ARGV[3],
-- returning them with their queue scores.
local zs = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #zs, 2 do
  redis.call('ZREM', KEYS[1], zs[i])
  redis.call('ZADD', KEYS[2], ARGV[3], zs[i])
end
return zs
