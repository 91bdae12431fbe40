%% snow_bench: the bench scenarios on BEAM, printed as the same RESULT lines
%% as libsnowrt's programs (system=beam). Compiled by scripts/bench.sh with
%% erlc at run time and started as
%%
%%   erl -noshell -pa EBIN -run snow_bench main local  all|SCENARIO quick|full
%%   erl -noshell -pa EBIN +P 2000000 -run snow_bench main idle quick|full
%%   erl -noshell -pa EBIN -run snow_bench main fanout all quick|full
%%   erl -name snowbench_a@127.0.0.1 -setcookie C -connect_all false \
%%       -kernel net_ticktime T -noshell -pa EBIN \
%%       -run snow_bench main dist all|SCENARIO quick|full MODE SIGAT
%%
%% Every timed scenario runs between spawned processes; targets are parked
%% in receive before they are killed or signalled; warm-up samples are
%% dropped. Local times: erlang:monotonic_time(nanosecond). Anything that
%% crosses OS processes (distribution, the sigat helper): os:perf_counter
%% (nanosecond), which reads CLOCK_MONOTONIC like the C programs.
-module(snow_bench).
-export([main/1, dist_peer/1]).
%% spawned by name on other nodes
-export([echo/0, parked/1, recv_count/2, exit_on_go/1, noop/0, idle_wait/0]).

-define(FANOUT, 10000).

%% ---------------------------------------------------------------------------
%% entry

main(Args) ->
    process_flag(trap_exit, false),
    try run(Args) of
        _ -> ok
    catch
        C:E:St ->
            io:format("NOTE system=beam crashed ~p:~p ~p~n", [C, E, St])
    end,
    erlang:halt(0, [{flush, true}]).

run(["local", Only, Q]) ->
    setp(quick, Q =:= "quick"),
    info(),
    local(Only);
run(["fanout", Only, Q]) ->
    setp(quick, Q =:= "quick"),
    info(),
    fanout(Only);
run(["idle", Q]) ->
    run(["idle", Q, "plain"]);
run(["idle", Q, How]) when How =:= "plain"; How =:= "hibernate" ->
    setp(quick, Q =:= "quick"),
    setp(idle_how, How),
    info(),
    idle(iters(1000000, 100000));
run(["idle", Q, Count]) ->
    setp(quick, Q =:= "quick"),
    info(),
    idle(list_to_integer(Count));
run(["gc", Only, Q]) ->
    setp(quick, Q =:= "quick"),
    info(),
    gc(Only);
run(["dist", Only, Q, Mode, Sigat]) ->
    setp(quick, Q =:= "quick"),
    setp(mode, Mode),
    setp(sigat, Sigat),
    info(),
    dist(Only).

%% Settings visible to every process of the run.
setp(K, V) -> persistent_term:put({?MODULE, K}, V).
getp(K) -> persistent_term:get({?MODULE, K}, undefined).

info() ->
    io:format("INFO system=beam otp=~s erts=~s schedulers=~p quick=~p~n",
              [erlang:system_info(otp_release), erlang:system_info(version),
               erlang:system_info(schedulers_online),
               case getp(quick) of true -> 1; _ -> 0 end]).

iters(Full, Quick) ->
    case getp(quick) of true -> Quick; _ -> Full end.

%% Only: "all", one scenario id, or a comma-separated list of ids.
want(Only, Id) -> Only =:= "all" orelse lists:member(Id, string:split(Only, ",", all)).

mono() -> erlang:monotonic_time(nanosecond).
os_now() -> os:perf_counter(nanosecond).

%% ---------------------------------------------------------------------------
%% reporting

extra([]) -> "";
extra(Kvs) -> [[" ", K, "=", to_s(V)] || {K, V} <- Kvs].

to_s(V) when is_integer(V) -> integer_to_list(V);
to_s(V) when is_float(V) -> io_lib:format("~.1f", [V]);
to_s(V) when is_atom(V) -> atom_to_list(V);
to_s(V) -> V.

mode_kv() ->
    case getp(mode) of
        undefined -> [];
        M -> [{"mode", M}, {"dist_opts", dist_opts_name()}]
    end.

%% The distribution's socket options come from the command line (-kernel
%% inet_dist_connect_options ... inet_dist_listen_options ...): "tuned"
%% when any is given (scripts/bench.sh gives delay_send and a 256 KiB
%% buffer), "default" otherwise. Peer nodes get the same (start_node).
dist_opt_args() ->
    [A || K <- [inet_dist_connect_options, inet_dist_listen_options],
          {ok, V} <- [application:get_env(kernel, K)],
          A <- ["-kernel", atom_to_list(K), lists:flatten(io_lib:format("~w", [V]))]].

dist_opts_name() ->
    case dist_opt_args() of [] -> "default"; _ -> "tuned" end.

%% Latency samples (ns), warm-up dropped, each divided by Div.
report_ns(Id, Samples, Warm, Div, Kvs) ->
    case lists:nthtail(min(Warm, length(Samples)), Samples) of
        [] -> report_error(Id, "no_samples");
        S0 ->
            S = list_to_tuple(lists:sort(S0)),
            N = tuple_size(S),
            Med = case N rem 2 of
                      1 -> element(N div 2 + 1, S);
                      0 -> (element(N div 2, S) + element(N div 2 + 1, S)) / 2
                  end,
            Rank = max(1, (99 * N + 99) div 100),
            P99 = element(Rank, S),
            io:format("RESULT system=beam scenario=~s median=~.1f p99=~.1f unit=ns n=~p~s~n",
                      [Id, Med / Div, P99 / Div, N, extra(Kvs ++ mode_kv())])
    end.

report_ns(Id, Samples, Warm) -> report_ns(Id, Samples, Warm, 1.0, []).

report_rate(Id, Rates, Warm, Kvs) ->
    case lists:nthtail(min(Warm, length(Rates)), Rates) of
        [] -> report_error(Id, "no_samples");
        R0 ->
            R = list_to_tuple(lists:sort(R0)),
            N = tuple_size(R),
            Med = case N rem 2 of
                      1 -> element(N div 2 + 1, R);
                      0 -> (element(N div 2, R) + element(N div 2 + 1, R)) / 2
                  end,
            io:format("RESULT system=beam scenario=~s median=~.1f p99=- unit=per_s n=~p~s~n",
                      [Id, float(Med), N, extra(Kvs ++ mode_kv())])
    end.

report_error(Id, Word) ->
    io:format("RESULT system=beam scenario=~s error=~s~s~n", [Id, Word, extra(mode_kv())]).

%% Runs one scenario in a fresh process, with a time limit, so that one
%% broken scenario cannot take the others down.
scenario(Id, Fun) ->
    Parent = self(),
    {Pid, Ref} = spawn_monitor(fun() -> Fun(), Parent ! {scenario_done, self()} end),
    receive
        {scenario_done, Pid} ->
            receive {'DOWN', Ref, _, _, _} -> ok end;
        {'DOWN', Ref, _, _, Reason} ->
            io:format("NOTE system=beam scenario ~s crashed: ~p~n", [Id, Reason]),
            report_error(Id, "crashed")
    after 300000 ->
        exit(Pid, kill),
        report_error(Id, "timeout")
    end.

%% ---------------------------------------------------------------------------
%% local scenarios

local(Only) ->
    L = [{"spawn_first_instr", fun spawn_first_instr/0},
         {"spawn_exit_tput_proc", fun spawn_exit_tput/0},
         {"pingpong_rtt", fun pingpong/0},
         {"send_tput", fun send_tput/0},
         {"monitor_kill_down", fun() -> signal_latency("monitor_kill_down", kill_down) end},
         {"monitor_exit_down", fun() -> signal_latency("monitor_exit_down", exit_down) end},
         {"link_kill_exit", fun() -> signal_latency("link_kill_exit", kill_exit) end},
         {"link_crash_exit", fun() -> signal_latency("link_crash_exit", crash_exit) end},
         {"monitor_demonitor_pair", fun() -> pairs("monitor_demonitor_pair", monitor) end},
         {"link_unlink_pair", fun() -> pairs("link_unlink_pair", link) end}],
    [scenario(Id, F) || {Id, F} <- L, want(Only, Id)],
    ok.

spawn_first_instr() ->
    N = iters(20000, 2000),
    P = self(),
    S = [begin
             T0 = mono(),
             spawn(fun() -> P ! {t1, mono()} end),
             receive {t1, T1} -> T1 - T0 end
         end || _ <- lists:seq(1, N)],
    report_ns("spawn_first_instr", S, N div 10).

noop() -> ok.

spawn_n(0) -> ok;
spawn_n(N) -> spawn(fun noop/0), spawn_n(N - 1).

wait_process_count(Base) ->
    case erlang:system_info(process_count) of
        C when C =< Base -> ok;
        _ -> timer:sleep(1), wait_process_count(Base)
    end.

spawn_exit_tput() ->
    Batch = iters(100000, 20000),
    Reps = iters(6, 3),
    Rates = [begin
                 Base = erlang:system_info(process_count),
                 T0 = mono(),
                 spawn_n(Batch),
                 wait_process_count(Base),
                 Batch * 1.0e9 / (mono() - T0)
             end || _ <- lists:seq(1, Reps)],
    report_rate("spawn_exit_tput_proc", Rates, 1, [{"batch", Batch}]).

pong() ->
    receive
        {ping, From} -> From ! pong, pong();
        stop -> ok
    end.

ping(_Pong, 0, Acc) -> Acc;
ping(Pong, I, Acc) ->
    T0 = mono(),
    Pong ! {ping, self()},
    receive pong -> ok end,
    ping(Pong, I - 1, [mono() - T0 | Acc]).

pingpong() ->
    N = iters(200000, 20000),
    D = self(),
    Pong = spawn(fun pong/0),
    spawn(fun() -> S = ping(Pong, N, []), Pong ! stop, D ! {samples, lists:reverse(S)} end),
    receive {samples, S} -> report_ns("pingpong_rtt", S, N div 10) end.

recv_n(0) -> ok;
recv_n(N) -> receive _ -> recv_n(N - 1) end.

send_n(_To, 0) -> ok;
send_n(To, N) -> To ! N, send_n(To, N - 1).

send_tput() ->
    M = iters(1000000, 100000),
    Reps = iters(6, 3),
    D = self(),
    Rates = [begin
                 R = spawn(fun() -> recv_n(M), D ! {t1, mono()} end),
                 spawn(fun() -> D ! {t0, mono()}, send_n(R, M) end),
                 T0 = receive {t0, X} -> X end,
                 T1 = receive {t1, Y} -> Y end,
                 M * 1.0e9 / (T1 - T0)
             end || _ <- lists:seq(1, Reps)],
    report_rate("send_tput", Rates, 1, [{"batch", M}]).

%% A target that says it is parked, then waits.
parked(D) ->
    D ! {parked, self()},
    receive _ -> ok end.

%% A target that says it is parked, waits for go, stamps and exits. Normal
%% exit for exit_down, a crash (exit/1 with a non-normal reason) for
%% crash_exit. Stamps go through an atomics array (shared memory).
exit_on_go({D, A, Crash}) ->
    D ! {parked, self()},
    receive go -> ok end,
    atomics:put(A, 1, mono()),
    case Crash of
        true -> exit(crash);
        false -> ok
    end.

spawn_parked(Fun) ->
    P = spawn(Fun),
    receive {parked, P} -> P end.

signal_latency(Id, Variant) ->
    N = iters(20000, 2000),
    D = self(),
    A = atomics:new(1, [{signed, true}]),
    Links = Variant =:= kill_exit orelse Variant =:= crash_exit,
    process_flag(trap_exit, Links),
    S = [begin
             T = case Variant of
                     kill_down -> spawn_parked(fun() -> parked(D) end);
                     kill_exit -> spawn_parked(fun() -> parked(D) end);
                     exit_down -> spawn_parked(fun() -> exit_on_go({D, A, false}) end);
                     crash_exit -> spawn_parked(fun() -> exit_on_go({D, A, true}) end)
                 end,
             case Variant of
                 kill_down ->
                     Ref = erlang:monitor(process, T),
                     T0 = mono(),
                     exit(T, kill),
                     receive {'DOWN', Ref, process, T, killed} -> mono() - T0 end;
                 exit_down ->
                     Ref = erlang:monitor(process, T),
                     T ! go,
                     receive {'DOWN', Ref, process, T, normal} -> mono() - atomics:get(A, 1) end;
                 kill_exit ->
                     link(T),
                     T0 = mono(),
                     exit(T, kill),
                     receive {'EXIT', T, killed} -> mono() - T0 end;
                 crash_exit ->
                     link(T),
                     T ! go,
                     receive {'EXIT', T, crash} -> mono() - atomics:get(A, 1) end
             end
         end || _ <- lists:seq(1, N)],
    process_flag(trap_exit, false),
    report_ns(Id, S, N div 10).

%% Each sample ends with a round trip to the target, so that the clock
%% stops once the target has applied every signal of the batch (the same
%% rule as bench_local.c's and the distribution pairs').
pairs(Id, What) ->
    Per = 1000,
    N = iters(2000, 200),
    T = spawn(?MODULE, echo, []),
    T ! {ping, self()},
    receive pong -> ok end,
    S = [begin
             T0 = mono(),
             pair_loop(What, T, Per),
             T ! {ping, self()},
             receive pong -> mono() - T0 end
         end || _ <- lists:seq(1, N)],
    exit(T, kill),
    report_ns(Id, S, N div 10, float(Per), [{"batch", Per}, {"synced", 1}]).

pair_loop(_, _, 0) -> ok;
pair_loop(monitor, T, K) ->
    erlang:demonitor(erlang:monitor(process, T)),
    pair_loop(monitor, T, K - 1);
pair_loop(link, T, K) ->
    link(T),
    unlink(T),
    pair_loop(link, T, K - 1).

%% ---------------------------------------------------------------------------
%% fan-out: 10,000 observers of one death

fanout(Only) ->
    L = [{"fanout_monitors_procs", fun() -> fanout_run("fanout_monitors_procs", procs) end},
         {"fanout_monitors_one", fun() -> fanout_run("fanout_monitors_one", one) end},
         {"fanout_links", fun() -> fanout_run("fanout_links", links) end}],
    [scenario(Id, F) || {Id, F} <- L, want(Only, Id)],
    ok.

fanout_run(Id, Kind) ->
    Reps = iters(11, 4),
    S = [fanout_rep(Kind) || _ <- lists:seq(1, Reps)],
    report_ns(Id, S, 1, 1.0, [{"fanout", ?FANOUT}]).

fanout_rep(one) ->
    D = self(),
    T = spawn_parked(fun() -> parked(D) end),
    _ = [erlang:monitor(process, T) || _ <- lists:seq(1, ?FANOUT)],
    T0 = mono(),
    exit(T, kill),
    wait_downs(?FANOUT),
    mono() - T0;
fanout_rep(Kind) ->
    D = self(),
    Base = erlang:system_info(process_count),
    T = spawn_parked(fun() -> parked(D) end),
    Stamps = atomics:new(?FANOUT, [{signed, true}]),
    Cnt = atomics:new(2, []),
    Observer =
        fun(I) ->
                fun() ->
                        case Kind of
                            procs -> erlang:monitor(process, T);
                            links -> process_flag(trap_exit, true), link(T)
                        end,
                        case atomics:add_get(Cnt, 1, 1) of ?FANOUT -> D ! ready; _ -> ok end,
                        receive
                            {'DOWN', _, process, T, _} -> ok;
                            {'EXIT', T, _} -> ok
                        end,
                        atomics:put(Stamps, I, mono()),
                        case atomics:add_get(Cnt, 2, 1) of ?FANOUT -> D ! done; _ -> ok end
                end
        end,
    _ = [spawn(Observer(I)) || I <- lists:seq(1, ?FANOUT)],
    receive ready -> ok end,
    T0 = mono(),
    exit(T, kill),
    receive done -> ok end,
    Last = lists:max([atomics:get(Stamps, I) || I <- lists:seq(1, ?FANOUT)]),
    wait_process_count(Base),
    Last - T0.

wait_downs(0) -> ok;
wait_downs(N) -> receive {'DOWN', _, _, _, _} -> wait_downs(N - 1) end.

%% ---------------------------------------------------------------------------
%% one million idle processes

rss() ->
    {ok, B} = file:read_file("/proc/self/statm"),
    [_Size, Res | _] = string:lexemes(binary_to_list(B), " \n"),
    list_to_integer(Res) * 4096.

%% How = "hibernate": the usual idiom for a process that waits long,
%% erlang:hibernate/3 (its heap shrunk to what is live, its stack dropped).
idle_proc(C, How) ->
    atomics:add(C, 1, 1),
    case How of
        "hibernate" -> erlang:hibernate(?MODULE, idle_wait, []);
        _ -> idle_wait()
    end.

idle_wait() ->
    receive _ -> ok end.

spawn_idle(0, _, _) -> ok;
spawn_idle(N, C, How) -> spawn(fun() -> idle_proc(C, How) end), spawn_idle(N - 1, C, How).

%% The counter is bumped right before a process parks (or hibernates): wait
%% until no process is left in a run queue, so that all have parked.
wait_run_queues_empty(0) -> ok;
wait_run_queues_empty(K) ->
    case erlang:statistics(total_run_queue_lengths_all) of
        0 -> ok;
        _ -> timer:sleep(1), wait_run_queues_empty(K - 1)
    end.

wait_atomic(C, N) ->
    case atomics:get(C, 1) of
        X when X >= N -> ok;
        _ -> timer:sleep(1), wait_atomic(C, N)
    end.

idle(N) ->
    Limit = erlang:system_info(process_limit),
    case Limit < N + 1000 of
        true ->
            report_error("idle_spawn_total", "process_limit_too_low"),
            report_error("idle_bytes_each", "process_limit_too_low");
        false ->
            scenario("idle_spawn_total", fun() -> idle_run(N) end)
    end.

idle_run(N) ->
    How = case getp(idle_how) of undefined -> "plain"; H -> H end,
    Suffix = case How of "hibernate" -> "_hibernated"; _ -> "" end,
    C = atomics:new(1, []),
    garbage_collect(),
    Rss0 = rss(),
    T0 = mono(),
    spawn_idle(N, C, How),
    T1 = mono(),
    wait_atomic(C, N),
    wait_run_queues_empty(5000),
    T2 = mono(),
    Rss1 = rss(),
    io:format("RESULT system=beam scenario=idle_spawn_total~s median=~p.0 p99=- unit=ns n=1 count=~p spawn_calls_ns=~p~n",
              [Suffix, T2 - T0, N, T1 - T0]),
    io:format("RESULT system=beam scenario=idle_bytes_each~s median=~.1f p99=- unit=bytes n=1 count=~p rss_before=~p rss_after=~p~n",
              [Suffix, (Rss1 - Rss0) / N, N, Rss0, Rss1]).

%% ---------------------------------------------------------------------------
%% distribution: this node (a) measures; node b is a long-lived peer; each
%% node-loss scenario starts a fresh node c and SIGKILLs or SIGSTOPs it.

%% Run on every started peer node: halts when the measuring node's OS
%% process is gone, so that no node outlives a crashed bench.
dist_peer([ParentOsPid]) ->
    spawn(fun() -> watch_parent(ParentOsPid) end),
    ok.

watch_parent(OsPid) ->
    case file:read_file_info("/proc/" ++ OsPid) of
        {ok, _} -> timer:sleep(500), watch_parent(OsPid);
        _ -> erlang:halt(0)
    end.

echo() ->
    receive
        {ping, From} -> From ! pong, echo();
        stop -> ok;
        _ -> echo()
    end.

recv_count(M, From) ->
    recv_n(M),
    From ! counted.

ticktime() -> net_kernel:get_net_ticktime().

%% Peer node names share this node's prefix (the driver makes it unique per
%% run): snowbench<os pid><mode>_a -> ..._b, ..._c1, ...
node_prefix() ->
    [Name | _] = string:split(atom_to_list(node()), "@"),
    case lists:suffix("_a", Name) of
        true -> lists:sublist(Name, length(Name) - 2);
        false -> Name
    end.

start_node(Suffix) ->
    Name = node_prefix() ++ "_" ++ Suffix ++ "@127.0.0.1",
    Node = list_to_atom(Name),
    Erl = os:find_executable("erl"),
    Ebin = filename:dirname(code:which(?MODULE)),
    Tick = integer_to_list(ticktime()),
    Port = open_port({spawn_executable, Erl},
                     [{args, ["-name", Name, "-setcookie", atom_to_list(erlang:get_cookie()),
                              "-connect_all", "false", "-kernel", "net_ticktime", Tick] ++ dist_opt_args() ++ [
                              "-noshell", "-noinput", "-pa", Ebin,
                              "-run", "snow_bench", "dist_peer", os:getpid()]},
                      exit_status, use_stdio, stderr_to_stdout, hide]),
    ok = wait_connect(Node, 500),
    OsPid = rpc:call(Node, os, getpid, []),
    {Node, OsPid, Port}.

wait_connect(_Node, 0) -> error;
wait_connect(Node, K) ->
    case net_kernel:connect_node(Node) of
        true -> ok;
        _ -> timer:sleep(20), wait_connect(Node, K - 1)
    end.

stop_node({Node, _OsPid, Port}) ->
    erlang:monitor_node(Node, true),
    rpc:cast(Node, erlang, halt, [0]),
    receive {nodedown, Node} -> ok after 5000 -> ok end,
    flush_port(Port).

flush_port(Port) ->
    receive
        {Port, {exit_status, _}} -> ok;
        {Port, _} -> flush_port(Port)
    after 5000 -> catch port_close(Port), ok
    end.

%% Size of a node about to be killed (resident bytes and threads, from
%% /proc/<pid>/status), kept for the report: the kernel's teardown of a
%% process of that size bounds every node-loss figure from below
%% (bench/tools/kill_floor.c measures that floor).
note_victim(OsPid) ->
    case file:read_file("/proc/" ++ OsPid ++ "/status") of
        {ok, B} ->
            Ls = string:lexemes(binary_to_list(B), "\n"),
            Get = fun(Key) ->
                          case [L || L <- Ls, lists:prefix(Key, L)] of
                              [L | _] -> list_to_integer(hd(string:lexemes(lists:nthtail(length(Key), L), " \tkB")));
                              [] -> 0
                          end
                  end,
            setp(victim, [{"victim_rss", Get("VmRSS:") * 1024}, {"victim_threads", Get("Threads:")}]);
        _ -> ok
    end.

victim_kvs() ->
    case getp(victim) of undefined -> []; Kvs -> Kvs end.

%% Runs the sigat helper: returns the T0 it printed (CLOCK_MONOTONIC ns).
sigat(Sig, OsPid) ->
    P = open_port({spawn_executable, getp(sigat)},
                  [{args, [Sig, OsPid]}, {line, 128}, exit_status, use_stdio]),
    sigat_collect(P, undefined).

sigat_collect(P, T0) ->
    receive
        {P, {data, {eol, "T0 " ++ N}}} -> sigat_collect(P, list_to_integer(N));
        {P, {data, _}} -> sigat_collect(P, T0);
        {P, {exit_status, _}} -> T0
    after 10000 -> T0
    end.

dist(Only) ->
    {ok, _} = application:ensure_all_started(kernel),
    ok = net_kernel:monitor_nodes(false),
    B = start_node("b"),
    {BNode, _, _} = B,
    L = [{"dist_pingpong_rtt", fun() -> dist_pingpong(BNode) end},
         {"dist_send_tput_small", fun() -> dist_tput("dist_send_tput_small", BNode, 8) end},
         {"dist_send_tput_1k", fun() -> dist_tput("dist_send_tput_1k", BNode, 1024) end},
         {"dist_monitor_kill_down", fun() -> dist_signal("dist_monitor_kill_down", BNode, kill_down) end},
         {"dist_monitor_exit_down", fun() -> dist_signal("dist_monitor_exit_down", BNode, exit_down) end},
         {"dist_link_kill_exit", fun() -> dist_signal("dist_link_kill_exit", BNode, kill_exit) end},
         {"dist_monitor_pair", fun() -> dist_pairs("dist_monitor_pair", BNode, monitor) end},
         {"dist_link_pair", fun() -> dist_pairs("dist_link_pair", BNode, link) end},
         {"dist_spawn_monitor", fun() -> dist_spawn_monitor(BNode) end},
         {"dist_connect", fun() -> dist_connect(BNode) end}],
    [scenario(Id, F) || {Id, F} <- L, want(Only, Id)],
    stop_node(B),
    case filelib:is_regular(getp(sigat)) of
        true ->
            L2 = [{"dist_sigkill_nodedown", fun() -> dist_node_loss("dist_sigkill_nodedown", "KILL") end},
                  {"dist_sigstop_nodedown", fun() -> dist_node_loss("dist_sigstop_nodedown", "STOP") end},
                  {"dist_monitors_10k_nodeloss", fun dist_monitors_nodeloss/0},
                  {"dist_links_10k_nodeloss", fun dist_links_nodeloss/0}],
            [scenario(Id, F) || {Id, F} <- L2, want(Only, Id)];
        false ->
            [report_error(Id, "no_sigat_helper")
             || Id <- ["dist_sigkill_nodedown", "dist_sigstop_nodedown", "dist_monitors_10k_nodeloss",
                       "dist_links_10k_nodeloss"],
                want(Only, Id)]
    end,
    ok.

spawn_remote_parked(Node, Fun) ->
    D = self(),
    T = spawn(Node, fun() -> D ! {parked, self()}, Fun() end),
    receive {parked, T} -> T end.

dist_pingpong(B) ->
    N = iters(20000, 500),
    E = spawn(B, ?MODULE, echo, []),
    S = [begin
             T0 = os_now(),
             E ! {ping, self()},
             receive pong -> os_now() - T0 end
         end || _ <- lists:seq(1, N)],
    E ! stop,
    report_ns("dist_pingpong_rtt", S, N div 10).

dist_send_n(_To, _Msg, 0) -> ok;
dist_send_n(To, Msg, N) -> To ! Msg, dist_send_n(To, Msg, N - 1).

dist_tput(Id, B, Size) ->
    M = iters(200000, 20000),
    Reps = iters(4, 2),
    Msg = binary:copy(<<0>>, Size),
    Rates = [begin
                 R = spawn(B, ?MODULE, recv_count, [M, self()]),
                 T0 = os_now(),
                 dist_send_n(R, Msg, M),
                 receive counted -> M * 1.0e9 / (os_now() - T0) end
             end || _ <- lists:seq(1, Reps)],
    report_rate(Id, Rates, 1, [{"batch", M}, {"bytes", Size}]).

dist_signal(Id, B, Variant) ->
    N = iters(2000, 100),
    process_flag(trap_exit, Variant =:= kill_exit),
    S = [begin
             case Variant of
                 kill_down ->
                     T = spawn_remote_parked(B, fun() -> receive _ -> ok end end),
                     Ref = erlang:monitor(process, T),
                     T0 = os_now(),
                     exit(T, kill),
                     receive {'DOWN', Ref, process, T, killed} -> os_now() - T0 end;
                 exit_down ->
                     %% The remote stamps its exit time into its exit reason.
                     T = spawn_remote_parked(B, fun() -> receive go -> exit({t0, os_now()}) end end),
                     Ref = erlang:monitor(process, T),
                     T ! go,
                     receive {'DOWN', Ref, process, T, {t0, T0}} -> os_now() - T0 end;
                 kill_exit ->
                     T = spawn_remote_parked(B, fun() -> receive _ -> ok end end),
                     link(T),
                     T0 = os_now(),
                     exit(T, kill),
                     receive {'EXIT', T, killed} -> os_now() - T0 end
             end
         end || _ <- lists:seq(1, N)],
    process_flag(trap_exit, false),
    report_ns(Id, S, N div 10).

%% N pairs, then a round trip to the target so that it has applied them all.
dist_pairs(Id, B, What) ->
    Per = 1000,
    N = iters(20, 3),
    T = spawn(B, ?MODULE, echo, []),
    T ! {ping, self()},
    receive pong -> ok end,
    S = [begin
             T0 = os_now(),
             pair_loop(What, T, Per),
             T ! {ping, self()},
             receive pong -> os_now() - T0 end
         end || _ <- lists:seq(1, N)],
    T ! stop,
    report_ns(Id, S, 1, float(Per), [{"batch", Per}]).

dist_spawn_monitor(B) ->
    N = iters(2000, 100),
    S = [begin
             T0 = os_now(),
             Req = erlang:spawn_request(B, ?MODULE, noop, [], [monitor]),
             receive
                 {spawn_reply, Req, ok, _Pid} ->
                     Dt = os_now() - T0,
                     receive {'DOWN', Req, process, _, _} -> Dt end
             end
         end || _ <- lists:seq(1, N)],
    report_ns("dist_spawn_monitor", S, N div 10).

%% Disconnect, wait until both sides have seen it, then time connect_node
%% (port mapper lookup + TCP + handshake).
dist_connect(B) ->
    N = iters(20, 3),
    S = [begin
             disconnect_quiet(B, 10),
             T0 = os_now(),
             true = net_kernel:connect_node(B),
             os_now() - T0
         end || _ <- lists:seq(1, N + 1)],
    report_ns("dist_connect", S, 1).

%% Disconnects and waits until the peer has not reconnected for 100 ms (a
%% peer with something still to send may reconnect at once).
disconnect_quiet(B, 0) -> error({still_connected, B});
disconnect_quiet(B, K) ->
    erlang:monitor_node(B, true),
    erlang:disconnect_node(B),
    receive {nodedown, B} -> ok end,
    timer:sleep(100),
    case lists:member(B, nodes(connected)) of
        true -> disconnect_quiet(B, K - 1);
        false -> ok
    end.

dist_node_loss(Id, Sig) ->
    N = case Sig of
            "KILL" -> iters(10, 2);
            "STOP" -> iters(5, 1)
        end,
    S = [begin
             C = {Node, OsPid, Port} = start_node("c" ++ integer_to_list(I)),
             _ = C,
             erlang:monitor_node(Node, true),
             note_victim(OsPid),
             T0 = sigat(Sig, OsPid),
             T1 = receive {nodedown, Node} -> os_now() end,
             case Sig of
                 "STOP" -> sigat("KILL", OsPid);
                 _ -> ok
             end,
             flush_port(Port),
             T1 - T0
         end || I <- lists:seq(1, N)],
    report_ns(Id, S, 0, 1.0, [{"ticktime_s", ticktime()}] ++ victim_kvs()).

dist_monitors_nodeloss() ->
    N = iters(5, 1),
    S = [begin
             {Node, OsPid, Port} = start_node("m" ++ integer_to_list(I)),
             R = spawn(Node, ?MODULE, echo, []),
             _ = [erlang:monitor(process, R) || _ <- lists:seq(1, ?FANOUT)],
             R ! {ping, self()},
             receive pong -> ok end,
             note_victim(OsPid),
             T0 = sigat("KILL", OsPid),
             wait_downs(?FANOUT),
             T1 = os_now(),
             flush_port(Port),
             T1 - T0
         end || I <- lists:seq(1, N)],
    report_ns("dist_monitors_10k_nodeloss", S, 0, 1.0, [{"fanout", ?FANOUT}] ++ victim_kvs()).

%% 10,000 local trapping processes linked to one process on a fresh node;
%% SIGKILL the node -> the last EXIT noconnection.
dist_links_nodeloss() ->
    N = iters(5, 1),
    D = self(),
    S = [begin
             {Node, OsPid, Port} = start_node("l" ++ integer_to_list(I)),
             R = spawn(Node, ?MODULE, echo, []),
             Stamps = atomics:new(?FANOUT, [{signed, true}]),
             Cnt = atomics:new(2, []),
             _ = [spawn(fun() ->
                                process_flag(trap_exit, true),
                                link(R),
                                case atomics:add_get(Cnt, 1, 1) of ?FANOUT -> D ! ready; _ -> ok end,
                                receive {'EXIT', R, _} -> ok end,
                                atomics:put(Stamps, K, os_now()),
                                case atomics:add_get(Cnt, 2, 1) of ?FANOUT -> D ! done; _ -> ok end
                        end) || K <- lists:seq(1, ?FANOUT)],
             receive ready -> ok end,
             R ! {ping, self()},
             receive pong -> ok end,
             note_victim(OsPid),
             T0 = sigat("KILL", OsPid),
             receive done -> ok end,
             Last = lists:max([atomics:get(Stamps, K) || K <- lists:seq(1, ?FANOUT)]),
             flush_port(Port),
             Last - T0
         end || I <- lists:seq(1, N)],
    report_ns("dist_links_10k_nodeloss", S, 0, 1.0, [{"fanout", ?FANOUT}] ++ victim_kvs()).

%% ---------------------------------------------------------------------------
%% collected heap (bench_gc.cpp's scenarios, the same workloads)

gc(Only) ->
    L = [{"gc_alloc_tput", fun gc_alloc_tput/0},
         {"gc_pause_pingpong", fun gc_pause_pingpong/0},
         {"gc_bytes_after_collect", fun gc_bytes_after_collect/0},
         {"gc_scan_stack_ints_per_kib", fun() -> gc_scan_stack("gc_scan_stack_ints_per_kib", false) end},
         {"gc_scan_stack_refs_per_kib", fun() -> gc_scan_stack("gc_scan_stack_refs_per_kib", true) end}],
    [scenario(Id, F) || {Id, F} <- L, want(Only, Id)],
    ok.

%% 32-byte objects ({N, N, N}: a header word and three) that die at once,
%% the last two kept live, as bench_gc.cpp's churn.
churn(0, _, _) -> ok;
churn(N, A, _B) -> T = {N, N, N}, churn(N - 1, T, A).

churn_until(Stop) ->
    churn(2000, x, x),
    case Stop() of true -> ok; false -> churn_until(Stop) end.

%% Every garbage collection of Pid (minor and major), as {start, end}
%% monotonic times, collected by the calling process (the tracer).
gc_pauses(Pid, Acc) ->
    receive
        {trace_ts, Pid, Kind, _, T} when Kind =:= gc_minor_start; Kind =:= gc_major_start ->
            gc_pauses_end(Pid, T, Acc);
        {done, Pid} -> Acc
    end.
gc_pauses_end(Pid, T0, Acc) ->
    receive
        {trace_ts, Pid, Kind, _, T1} when Kind =:= gc_minor_end; Kind =:= gc_major_end ->
            gc_pauses(Pid, [T1 - T0 | Acc])
    end.

report_max(Id, []) -> report_error(Id, "no_samples");
report_max(Id, S) ->
    io:format("RESULT system=beam scenario=~s median=~p p99=- unit=ns n=1~s~n", [Id, lists:max(S), extra(mode_kv())]).

gc_alloc_tput() ->
    N = iters(20000000, 1000000),
    D = self(),
    P1 = spawn(fun() -> receive go -> ok end, T0 = mono(), churn(N, x, x), D ! {elapsed, mono() - T0} end),
    P1 ! go,
    receive {elapsed, E} -> report_rate("gc_alloc_tput", [N * 1.0e9 / E], 0, []) end,
    P2 = spawn(fun() -> receive go -> ok end, churn(N, x, x), D ! {done, self()} end),
    erlang:trace(P2, true, [garbage_collection, monotonic_timestamp]),
    P2 ! go,
    Pauses = gc_pauses(P2, []),
    report_ns("gc_pause_self", lists:reverse(Pauses), 0, 1.0, [{"max", lists:max([0 | Pauses])}]),
    report_max("gc_pause_self_max", Pauses).

gc_pause_pingpong() ->
    N = iters(200000, 20000),
    D = self(),
    Stop = fun() -> persistent_term:get({?MODULE, gc_stop}, false) end,
    persistent_term:put({?MODULE, gc_stop}, false),
    Churner = spawn(fun() -> churn_until(Stop), D ! churned end),
    Pong = spawn(fun pong/0),
    spawn(fun() -> S = ping(Pong, N, []), Pong ! stop, D ! {samples, lists:reverse(S)} end),
    receive {samples, S} -> ok end,
    persistent_term:put({?MODULE, gc_stop}, true),
    receive churned -> ok end,
    _ = Churner,
    Kept = lists:nthtail(N div 10, S),
    report_ns("gc_pause_pingpong", Kept, 0, 1.0, [{"max", lists:max(Kept)}]),
    report_max("gc_pause_pingpong_max", Kept).

gc_bytes_after_collect() ->
    D = self(),
    spawn(fun() ->
                  Live = list_to_tuple(lists:seq(1, 63)),  % 64 words: 512 bytes
                  churn(1024 * 1024 div 32, x, x),
                  erlang:garbage_collect(),
                  {memory, M} = process_info(self(), memory),
                  {total_heap_size, H} = process_info(self(), total_heap_size),
                  D ! {bytes, M, H * erlang:system_info(wordsize), tuple_size(Live)}
          end),
    receive
        {bytes, M, H, _} ->
            io:format("RESULT system=beam scenario=gc_bytes_after_collect median=~p p99=- unit=bytes n=1 "
                      "process_memory=~p~s~n", [H, M, extra(mode_kv())])
    end.

%% What a deep stack adds to a collection, per KiB of stack (bench_gc.cpp's
%% gc_scan_stack_*_per_kib, where it is a conservative scan of every word).
%% A process recurses until its stack holds about Kib KiB, then collects
%% Reps times (erlang:garbage_collect/0, a full collection: BEAM scans the
%% stack for roots and moves it with the heap), each timed around the call;
%% the median at depth 0 is subtracted and the difference divided by the
%% stack that was added (process_info stack_size at the bottom). Every frame
%% keeps an integer (ints) or a 3-tuple of its own (refs: 32 bytes, as the
%% 32-byte object each of ours keeps) live across its call.
gc_scan_stack(Id, Refs) ->
    Kib = iters(256, 64),
    Reps = iters(200, 30),
    {ShallowNs, ShallowW} = in_process(fun() -> deep_gc(0, Refs, Reps) end),
    Frames = Kib * 1024 div 16,  % a frame: the return address and one saved variable
    {DeepNs, DeepW} = in_process(fun() -> deep_gc(Frames, Refs, Reps) end),
    Bytes = (DeepW - ShallowW) * erlang:system_info(wordsize),
    io:format("RESULT system=beam scenario=~s median=~.1f p99=- unit=ns n=~p stack_kib=~.1f frames=~p "
              "deep_ns=~.1f shallow_ns=~.1f~s~n",
              [Id, (DeepNs - ShallowNs) * 1024 / Bytes, Reps, Bytes / 1024, Frames, DeepNs * 1.0,
               ShallowNs * 1.0, extra(mode_kv())]).

in_process(F) ->
    D = self(),
    spawn(fun() -> D ! {in_process, F()} end),
    receive {in_process, R} -> R end.

deep_gc(0, _, Reps) ->
    {stack_size, W} = process_info(self(), stack_size),
    {median(gc_times(Reps, [])), W};
deep_gc(N, false, Reps) ->
    R = deep_gc(N - 1, false, Reps),
    keep_frame(N, R);
deep_gc(N, true, Reps) ->
    T = {N, N, N},
    R = deep_gc(N - 1, true, Reps),
    keep_frame(T, R).

%% Uses its first argument after the call above, so the frame keeps it.
keep_frame(_, R) -> R.

gc_times(0, Acc) -> Acc;
gc_times(K, Acc) ->
    T0 = mono(),
    true = erlang:garbage_collect(),
    gc_times(K - 1, [mono() - T0 | Acc]).

median(L) ->
    S = list_to_tuple(lists:sort(L)),
    N = tuple_size(S),
    case N rem 2 of
        1 -> element(N div 2 + 1, S);
        0 -> (element(N div 2, S) + element(N div 2 + 1, S)) / 2
    end.
