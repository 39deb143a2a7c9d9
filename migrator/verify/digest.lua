#!lua flags=no-writes
-- One record per key in KEYS, joined by "\n": "<type><digest>:<absolute expiry ms>".
-- The digest is a SHA-1 of a canonical form of the value, so it is equal across engines and encodings
-- (DUMP is not: RDB trailer, listpack vs hashtable order). Collections longer than ARGV[1] elements are
-- not read here (that would block the server and copy the whole value into Lua); their record says "*<len>"
-- and their 1-based index is returned so the client compares them in chunks.
local max_elements = tonumber(ARGV[1])
local records, big = {}, {}
local sha1 = redis.sha1hex

-- Length-prefixed parts make the concatenation unambiguous for binary data.
local function lp(s)
  return #s .. ':' .. s
end

local function sorted_digest(parts)
  table.sort(parts)
  return sha1(table.concat(parts))
end

local function list_digest(items)
  local parts = {}
  for i = 1, #items do
    parts[i] = lp(items[i])
  end
  return sha1(table.concat(parts))
end

local function hash_digest(flat)
  local parts = {}
  for i = 1, #flat, 2 do
    parts[#parts + 1] = lp(flat[i]) .. lp(flat[i + 1])
  end
  return sorted_digest(parts)
end

local function set_digest(members)
  local parts = {}
  for i = 1, #members do
    parts[i] = lp(members[i])
  end
  return sorted_digest(parts)
end

-- ZRANGE order (score, then member) is the same on both sides; scores are printed differently by
-- Redis 7.0 ("1.1000000000000001") and Valkey ("1.1"), so they are re-printed from the parsed double.
local function zset_digest(flat)
  local parts = {}
  for i = 1, #flat, 2 do
    local score = tonumber(flat[i + 1])
    parts[#parts + 1] = lp(flat[i]) .. (score and string.format('%.17g', score) or flat[i + 1]) .. ';'
  end
  return sha1(table.concat(parts))
end

local function stream_digest(entries)
  local parts = {}
  for i = 1, #entries do
    local fields = entries[i][2]
    parts[#parts + 1] = lp(entries[i][1]) .. #fields .. ';'
    for j = 1, #fields do
      parts[#parts + 1] = lp(fields[j])
    end
  end
  return sha1(table.concat(parts))
end

-- type name -> {record letter, length command, digest of the whole value}
local collections = {
  hash = {'h', 'HLEN', function(k) return hash_digest(redis.call('HGETALL', k)) end},
  list = {'l', 'LLEN', function(k) return list_digest(redis.call('LRANGE', k, 0, -1)) end},
  set = {'t', 'SCARD', function(k) return set_digest(redis.call('SMEMBERS', k)) end},
  zset = {'z', 'ZCARD', function(k) return zset_digest(redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')) end},
  stream = {'x', 'XLEN', function(k) return stream_digest(redis.call('XRANGE', k, '-', '+')) end},
}

for i, key in ipairs(KEYS) do
  -- Most keys are strings: try GET first and ask TYPE only when it fails.
  local value = redis.pcall('GET', key)
  local record
  if type(value) == 'string' then
    record = 's' .. sha1(value)
  elseif value == false then
    record = '-'
  else
    local kind = redis.call('TYPE', key).ok
    local spec = collections[kind]
    if spec == nil then
      record = '?' .. kind
      big[#big + 1] = i
    else
      local length = redis.call(spec[2], key)
      if length > max_elements then
        record = spec[1] .. '*' .. length
        big[#big + 1] = i
      else
        record = spec[1] .. spec[3](key)
      end
    end
  end
  records[i] = record .. ':' .. redis.call('PEXPIRETIME', key)
end
return {table.concat(records, '\n'), big}
