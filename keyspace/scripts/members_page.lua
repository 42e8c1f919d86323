-- One page of a member index in its order (score, then member bytes),
-- starting after a cursor, so that a member who stays is returned exactly
-- once however others come and go.
-- KEYS[1] member index.
-- ARGV: cursor score ("" for the first page), cursor member, page size.
-- Returns the flat list member, score, member, score, ...
local n = tonumber(ARGV[3])
local start = 0
if ARGV[1] ~= '' then
  local s, m = ARGV[1], ARGV[2]
  local cur = redis.call('ZSCORE', KEYS[1], m)
  if cur and tonumber(cur) == tonumber(s) then
    start = redis.call('ZRANK', KEYS[1], m) + 1
  else
    -- the cursor's member left or moved: the members scored s hold ranks
    -- [lo, hi); find the first of them ordered after m (byte order, as
    -- Redis orders equal scores; Lua's < would use the locale)
    local function after(a, b)
      local l = math.min(#a, #b)
      for i = 1, l do
        local x, y = string.byte(a, i), string.byte(b, i)
        if x ~= y then return x > y end
      end
      return #a > #b
    end
    local lo = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. s)
    local hi = redis.call('ZCOUNT', KEYS[1], '-inf', s)
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      local e = redis.call('ZRANGE', KEYS[1], mid, mid)[1]
      if after(e, m) then hi = mid else lo = mid + 1 end
    end
    start = lo
  end
end
if n <= 0 then return {} end
return redis.call('ZRANGE', KEYS[1], start, start + n - 1, 'WITHSCORES')
