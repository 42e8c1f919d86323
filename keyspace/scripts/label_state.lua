-- Replaces only the segmenter state of a user's label record if its version
-- is still ARGV[1] (a decision that changed no segment: no new version).
-- KEYS[1] label hash; ARGV: expected ver, state.
local cur = redis.call('HGET', KEYS[1], 'ver') or '0'
if cur ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2])
return 1
