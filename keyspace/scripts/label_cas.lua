-- Writes a user's label record if its version is still ARGV[1].
-- KEYS[1] label hash; ARGV: expected ver, new ver, doc, changes, state, erased.
local cur = redis.call('HGET', KEYS[1], 'ver') or '0'
if cur ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'ver', ARGV[2], 'doc', ARGV[3], 'changes', ARGV[4], 'state', ARGV[5], 'erased', ARGV[6])
return 1
