-- Raises the published version of a label record to ARGV[1] (never lowers it).
local cur = tonumber(redis.call('HGET', KEYS[1], 'published') or '0')
if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], 'published', ARGV[1]) end
return 1
