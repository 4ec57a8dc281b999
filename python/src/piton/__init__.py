# piton
