-- Removes ARGV[1] from the outbox KEYS[1] only if its score is still ARGV[2]
-- (not renewed by a newer version written since it was read).
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 1
