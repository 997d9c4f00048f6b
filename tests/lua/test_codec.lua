-- dialtone.codec as a script sees it, run inside the binary by `dialtone run`.
-- Prints "N passed, N failed" and returns the number of failures as the exit status.
local t = require("dialtone.testing")
local check, eq = t.check, t.eq

local codec = dialtone.codec

-- Little-endian 16-bit samples <-> a Lua list.
local function pcm(samples)
  local bytes = {}
  for i, v in ipairs(samples) do
    if v < 0 then v = v + 65536 end
    bytes[i] = string.char(v % 256, math.floor(v / 256))
  end
  return table.concat(bytes)
end

local function sample(s, i)
  local lo, hi = s:byte(2 * i - 1, 2 * i)
  local v = lo + hi * 256
  return v >= 32768 and v - 65536 or v
end

local function rms(s, from)
  local sum, n = 0, 0
  for i = from or 1, #s / 2 do
    local v = sample(s, i)
    sum, n = sum + v * v, n + 1
  end
  return math.sqrt(sum / n)
end

check("ulaw and alaw follow the spec vectors", function()
  eq(codec.ulaw_encode(pcm({ 0, -1, 1000, -32768, 32767 })), "\255\127\206\0\128", "ulaw codes")
  eq(codec.alaw_encode(pcm({ 0, -1, 1000, -32768, 32767 })), "\213\85\250\42\170", "alaw codes")
  eq(codec.ulaw_decode("\0\128\255"), pcm({ -32124, 32124, 0 }), "ulaw decode")
  eq(codec.alaw_decode("\0\128\85"), pcm({ -5504, 5504, -8 }), "alaw decode")
  local all = {}
  for c = 0, 255 do all[#all + 1] = string.char(c) end
  all = table.concat(all)
  eq(codec.alaw_encode(codec.alaw_decode(all)), all, "alaw round trip")
  eq(#codec.ulaw_decode(("\255"):rep(5000)), 10000, "a long input")
  eq(pcall(codec.ulaw_encode, "abc"), false, "odd PCM length is refused")
end)

check("resampler keeps a 1 kHz tone and streams across frames", function()
  local tone8 = codec.tone(1000, 400, 8000, 0.5)
  eq(#tone8, 6400, "400 ms at 8 kHz")
  local up = codec.resampler(8000, 16000)
  local pieces = {}
  for i = 1, #tone8, 320 do pieces[#pieces + 1] = up:process(tone8:sub(i, i + 319)) end
  local tone16 = table.concat(pieces)
  eq(#tone16, 2 * #tone8, "twice the samples")
  eq(tone16, codec.resampler(8000, 16000):process(tone8), "frames equal one call")
  local db = 20 * math.log10(rms(tone16, 1000) / rms(tone8, 500))
  assert(math.abs(db) < 0.5, "level kept going up: " .. db)
  local down = codec.resampler(16000, 8000):process(tone16)
  eq(#down, #tone8, "back to 8 kHz")
  db = 20 * math.log10(rms(down, 500) / rms(tone8, 500))
  assert(math.abs(db) < 0.5, "level kept going down: " .. db)
  local high = codec.resampler(16000, 8000):process(codec.tone(5000, 400, 16000, 0.5))
  assert(20 * math.log10(rms(high, 500) / (0.5 * 32767 / math.sqrt(2))) < -40, "5 kHz removed")
  eq(pcall(codec.resampler, 8000, 24000), false, "unsupported rates raise")
  eq(pcall(up.process, up, "x"), false, "odd PCM length is refused")
end)

check("wav write and read in three formats", function()
  local audio = codec.tone(440, 100, 8000, 0.3)
  for _, format in ipairs({ "pcm16", "ulaw", "alaw" }) do
    local file = codec.wav_write(audio, 8000, format)
    eq(file:sub(1, 4), "RIFF", format .. " header")
    local w = codec.wav_read(file)
    eq(w.rate, 8000, format .. " rate")
    eq(w.format, format, "format")
    eq(w.channels, 1, "channels")
    eq(#w.pcm, #audio, format .. " length")
    if format == "pcm16" then eq(w.pcm, audio, "pcm16 is exact") end
    if format == "ulaw" then eq(w.pcm, codec.ulaw_decode(codec.ulaw_encode(audio)), "ulaw samples") end
  end
  eq(#codec.wav_write(audio, 16000), 44 + #audio, "pcm16 by default")
  local v, err = codec.wav_read("RIFF\0\0\0\0WAVE")
  eq(v, nil, "no chunks")
  assert(err:find("fmt"), "the error names the missing chunk: " .. err)
  v, err = codec.wav_read("nonsense")
  eq(v, nil, "not a wav")
  assert(type(err) == "string", "an error message")
  local file = codec.wav_write(audio, 8000)
  local stereo = file:sub(1, 22) .. "\2\0" .. file:sub(25) -- the channel count field
  v, err = codec.wav_read(stereo)
  eq(v, nil, "stereo refused")
  assert(err:find("mono"), "the error says mono: " .. tostring(err))
  eq(pcall(codec.wav_write, audio, 8000, "mp3"), false, "unknown format raises")
end)

check("dtmf tones are detected once each, in order", function()
  local det = codec.dtmf_detector()
  local keys = {}
  local audio = codec.tone(1000, 1, 8000, 0.0) .. codec.dtmf_tones("123#A*0D", 8000, 40, 40)
    .. codec.tone(1000, 100, 8000, 0.0)
  for i = 1, #audio, 320 do
    for _, k in ipairs(det:feed(audio:sub(i, i + 319))) do keys[#keys + 1] = k end
  end
  eq(table.concat(keys), "123#A*0D", "keys")
  eq(#codec.dtmf_detector():feed(codec.tone(440, 1000, 8000, 0.5)), 0, "a plain tone is no key")
  eq(#codec.dtmf_tones("1", 16000, 100, 0), 3200, "16 kHz generation")
  eq(pcall(codec.dtmf_tones, "12x", 8000), false, "invalid key raises")
  eq(pcall(codec.tone, 5000, 10, 8000), false, "tone above Nyquist raises")
end)

return t.finish()
