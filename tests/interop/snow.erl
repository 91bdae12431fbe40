%% snow.erl: functions a libsnowrt node spawns on erl (test_interop.py).
%% A libsnowrt spawn request names {snow, Function, 1} with [ArgsBinary],
%% as it does for a function registered on another libsnowrt node.
-module(snow).
-export([exits/1, waits/1]).

%% Exits at once with a reason the test checks.
exits(_Args) -> exit(spawn_monitor_reason).

%% Waits until its node goes away.
waits(_Args) -> receive stop -> ok end.
