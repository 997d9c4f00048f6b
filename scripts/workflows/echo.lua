--- Echo: the caller hears themselves. The audio is looped back in C (no Lua per frame).
return {
  rate = 8000,
  ---@param call table
  run = function(call)
    call:echo()
  end,
}
