-- Writes a user's label record if its version is still ARGV[1], and its
-- history in the same step.
-- KEYS[1] label hash; KEYS[2] (optional) history zset.
-- ARGV: expected ver, new ver, doc, changes, state, erased, history entry
-- (JSON; "" for none), history entries kept.
-- An erased record deletes the history: nothing of the old data stays.
local cur = redis.call('HGET', KEYS[1], 'ver') or '0'
if cur ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'ver', ARGV[2], 'doc', ARGV[3], 'changes', ARGV[4], 'state', ARGV[5], 'erased', ARGV[6])
if KEYS[2] then
  if ARGV[6] == '1' then
    redis.call('DEL', KEYS[2])
  elseif ARGV[7] and ARGV[7] ~= '' then
    redis.call('ZADD', KEYS[2], ARGV[2], ARGV[7])
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[8]) + 1))
  end
end
return 1
