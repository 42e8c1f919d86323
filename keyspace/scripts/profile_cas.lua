-- Writes a profile only if the stored revision (its first 8 bytes) is still
-- the one the fold started from; "" stands for "no record yet".
-- KEYS[1] profile; ARGV[1] expected revision; ARGV[2] new record.
local cur = redis.call('GETRANGE', KEYS[1], 0, 7)
if cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
