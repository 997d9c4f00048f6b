-- dialtone.assets.read_file, offered to `dialtone run` scripts only: any regular file by path.
-- Prints "N passed, N failed" and returns the number of failures as the exit status.
local t = require("dialtone.testing")
local check, eq, raises = t.check, t.eq, t.raises

local read_file = dialtone.assets.read_file

check("reads a file by its path: this test's own source", function()
  local text = read_file(arg[0])
  eq(type(text), "string", "contents")
  eq(text:sub(1, 35), "-- dialtone.assets.read_file, offer", "first bytes")
end)

check("a missing file, a missing directory and an empty path are not found", function()
  for _, path in ipairs({ "/nonexistent-dialtone-file", "/nonexistent-dir/x.txt", "" }) do
    local text, err = read_file(path)
    eq(text, nil, path)
    eq(err, "not found", path)
  end
end)

check("directories and devices are not files", function()
  for _, path in ipairs({ "/", "/dev/null" }) do
    local text, err = read_file(path)
    eq(text, nil, path)
    eq(err, "not a file", path)
  end
end)

check("a path with a NUL byte is refused; a non-string raises", function()
  local text, err = read_file(arg[0] .. "\0.txt")
  eq(text, nil, "NUL")
  eq(err, "not found", "NUL")
  raises("table path", "string expected", read_file, {})
end)

return t.finish()
