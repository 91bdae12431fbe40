%% snowpeer: an Erlang node driven over stdin/stdout with the line protocol
%% of tests/dist/snow_node.c, for tests/interop/test_interop.py.
%%
%%   erl -name N@127.0.0.1 -setcookie C -noshell -pa DIR -s snowpeer main
%%
%% Prints "ready <node>", then reads "<id> <command> <args...>" lines and
%% answers "R <id> ok ..." / "R <id> err ...". Workers (registered under
%% their label) print events "E <label> <KIND> k=v ...":
%%   EXIT from=<pid> rp=<hex of the ~0p text of the reason> ra=<atom|->
%%        rt=<hex of term_to_binary(Reason)>
%%   DOWN ref=<hex> pid=<pid|-> rp=.. ra=.. rt=..
%%   NODEUP/NODEDOWN node=<name>
%%   MSG len= data=<hex>                 a binary
%%   TERM rp=<hex> pid=<pid|0>           anything else (pid: first element
%%                                       of a tuple, or the term itself)
%%   DIED rp=.. ra=.. rt=..              the worker exited
%% Pids and refs are the hex of term_to_binary.
%%
%% Commands: spawn <label> [trap] | pid <label> | kill <label>
%%   | ping <label> <node> | nodes <label> (every connected node, hidden
%%     ones included) | visible <label> (nodes()) | hidden <label>
%%     (nodes(hidden)) | disconnect <label> <node>
%%   | monitor_nodes <label> (visible and hidden nodes; NODEUP/NODEDOWN
%%     carry type=visible|hidden) | gsync <label> (global:sync(), answers
%%     ok <ms>) | gregister <label> <name> (global:register_name of the
%%     worker) | gwhereis <label> <name> (answers the pid or "undefined")
%%   | gtrans <label> (global:trans on every visible node, answers its
%%     result) | ttsend <label> <pid> <hex> | ttsendnamed <label> <name>
%%     <node> <hex> | ttsendexit <label> <pid> <atom> | ttexit <label>
%%     <atom> | ttrspawn <label> ... (as send, sendnamed, sendexit, exit,
%%     rspawn, with a seq_trace token set: the _TT control messages)
%%   | aliassend <label> <node> <creation> <hex> (sends to a reference of
%%     that node, as to a process alias: ALIAS_SEND) | monitor <label> <pid> | monitorname <label>
%%   <name> <node> | demonitor <label> <ref> | link <label> <pid>
%%   | unlink <label> <pid> | exit <label> <atom> | error <label> <atom>
%%   | sendexit <label> <pid> <atom> | send <label> <pid> <hex>
%%   | sendexitterm <label> <pid> <termhex> | exitterm <label> <termhex>
%%     (exit/2, exit/1 with binary_to_term of the hex) | canon <label>
%%     <termhex> (answers term_to_binary(binary_to_term(..)) as hex)
%%   | monitornamehex <label> <namehex> <node> | sendnamedhex <label>
%%     <namehex> <node> <hex> (the name: UTF-8 bytes in hex)
%%   | sendpidtuple <label> <pid> | senddeep <label> <pid> <depth>
%%   | sendnamed <label> <name> <node> <hex>
%%   | rspawn <label> <node> <function> <link 0|1> <newlabel> [monitor]
%%   | linkraw/monitorraw <label> <node> <id> <serial> <creation> (a pid
%%     built from its parts) | sendbig <label> <pid> <size> | echo <label>
%%   | patterncrc <label> <size> (erlang:crc32 of sendbig's binary)
%%   | sendbigterm <label> <pid> <n> (sends {[1..n], <<"snow" x 16n>>};
%%     answers the size and crc32 of its term_to_binary)
%%   binaries over 64 KiB print crc=<crc32> and only their first 32 bytes
-module(snowpeer).
-export([main/0, reader/0, worker/2]).

main() ->
    spawn(?MODULE, reader, []),
    ok.

out(Fmt, Args) ->
    io:put_chars(standard_io, [io_lib:format(Fmt, Args), $\n]).

hex(Bin) -> string:lowercase(binary_to_list(binary:encode_hex(Bin))).
unhex("-") -> <<>>;
unhex(S) -> binary:decode_hex(list_to_binary(S)).

pid_hex(P) when is_pid(P) -> hex(term_to_binary(P));
pid_hex(_) -> "0".
term_of(Hex) -> binary_to_term(unhex(Hex)).
pretty(T) -> hex(unicode:characters_to_binary(io_lib:format("~0p", [T]))).
t2b(T) -> hex(term_to_binary(T)).
atom_of_hex(H) -> binary_to_atom(unhex(H), utf8).
atom_or_dash(A) when is_atom(A) -> atom_to_list(A);
atom_or_dash(_) -> "-".
now_ns() -> erlang:monotonic_time(nanosecond).

fabricate_pid(Node, Id, Serial, Creation) ->
    N = atom_to_binary(Node, utf8),
    binary_to_term(<<131, 88, 119, (byte_size(N)), N/binary, Id:32, Serial:32, Creation:32>>).

reader() ->
    out("ready ~s", [node()]),
    read_loop().

read_loop() ->
    case io:get_line(standard_io, "") of
        eof -> halt(0);
        {error, _} -> halt(0);
        Line ->
            case string:lexemes(string:trim(Line), " ") of
                [Id, "halt"] ->
                    out("R ~s ok", [Id]),
                    halt(0);
                [Id, Cmd | Args] ->
                    case catch command(Id, Cmd, Args) of
                        {'EXIT', E} -> out("R ~s err -1 ~s", [Id, pretty(E)]);
                        _ -> ok
                    end;
                _ -> ok
            end,
            read_loop()
    end.

command(Id, "spawn", [Label | Opt]) ->
    Trap = Opt =:= ["trap"],
    Pid = spawn(?MODULE, worker, [Label, Trap]),
    watch(Label, Pid),
    out("R ~s ok ~s", [Id, pid_hex(Pid)]);
command(Id, Cmd, [Label | Args]) ->
    case whereis(list_to_atom(Label)) of
        undefined -> out("R ~s err -3 no worker ~s", [Id, Label]);
        Pid when Cmd =:= "pid" -> out("R ~s ok ~s", [Id, pid_hex(Pid)]);
        Pid when Cmd =:= "kill" ->
            exit(Pid, kill),
            out("R ~s ok 0", [Id]);
        Pid -> Pid ! {cmd, Id, Cmd, Args}
    end.

%% Reports a worker's exit (a separate process: the worker cannot).
watch(Label, Pid) ->
    spawn(fun() ->
                  Ref = monitor(process, Pid),
                  receive
                      {'DOWN', Ref, process, _, Reason} ->
                          out("E ~s DIED rp=~s ra=~s rt=~s t=~b",
                              [Label, pretty(Reason), atom_or_dash(Reason), t2b(Reason), now_ns()])
                  end
          end).

worker(Label, Trap) ->
    process_flag(trap_exit, Trap),
    register(list_to_atom(Label), self()),
    out("E ~s STARTED pid=~s register=0 t=~b", [Label, pid_hex(self()), now_ns()]),
    worker_loop(Label).

worker_loop(Label) ->
    receive
        {cmd, Id, "exit", [A]} ->
            ok(Id),
            exit(list_to_atom(A));
        {cmd, Id, "error", [A]} ->
            ok(Id),
            erlang:error(list_to_atom(A));
        {cmd, Id, "ttexit", [A]} ->
            ok(Id),
            seq_trace:set_token(label, 17),
            exit(list_to_atom(A));
        {cmd, Id, "exitterm", [H]} ->
            ok(Id),
            exit(term_of(H));
        {cmd, Id, Cmd, Args} ->
            case catch run(Label, Id, Cmd, Args) of
                {'EXIT', E} -> out("R ~s err -1 ~s", [Id, pretty(E)]);
                _ -> ok
            end;
        {'EXIT', From, Reason} ->
            out("E ~s EXIT from=~s rp=~s ra=~s rt=~s t=~b",
                [Label, pid_hex(From), pretty(Reason), atom_or_dash(Reason), t2b(Reason), now_ns()]);
        {'DOWN', Ref, process, Obj, Reason} ->
            P = case Obj of
                    {Name, Node} -> "name:" ++ atom_to_list(Name) ++ "@" ++ atom_to_list(Node);
                    _ -> pid_hex(Obj)
                end,
            out("E ~s DOWN ref=~s pid=~s rp=~s ra=~s rt=~s t=~b",
                [Label, hex(term_to_binary(Ref)), P, pretty(Reason), atom_or_dash(Reason), t2b(Reason), now_ns()]);
        {nodeup, Node, Info} ->
            out("E ~s NODEUP node=~s type=~s t=~b", [Label, Node, proplists:get_value(node_type, Info), now_ns()]);
        {nodedown, Node, Info} ->
            out("E ~s NODEDOWN node=~s type=~s t=~b", [Label, Node, proplists:get_value(node_type, Info), now_ns()]);
        Bin when is_binary(Bin), byte_size(Bin) > 65536 ->
            out("E ~s MSG len=~b crc=~b data=~s trunc=1 t=~b",
                [Label, byte_size(Bin), erlang:crc32(Bin), hex(binary:part(Bin, 0, 32)), now_ns()]);
        Bin when is_binary(Bin) ->
            out("E ~s MSG len=~b data=~s t=~b", [Label, byte_size(Bin), hex(Bin), now_ns()]);
        Term ->
            P = case Term of
                    T when is_pid(T) -> T;
                    T when is_tuple(T), tuple_size(T) > 0, is_pid(element(1, T)) -> element(1, T);
                    _ -> none
                end,
            out("E ~s TERM rp=~s pid=~s t=~b", [Label, pretty(Term), pid_hex(P), now_ns()])
    end,
    worker_loop(Label).

ok(Id) -> out("R ~s ok 0", [Id]).

%% snow_node.c's sendbig pattern: byte I is (I * 131 + 7 + (I bsr 16)) band
%% 255, built from the 256 distinct 64 KiB blocks (block K starts at
%% I = K * 65536, where I * 131 is 0 modulo 256) so a 100 MiB one is quick.
pattern(Size) ->
    Blocks = list_to_tuple([<< <<((J * 131 + 7 + K) band 255)>> || J <- lists:seq(0, 65535) >>
                            || K <- lists:seq(0, 255)]),
    Full = iolist_to_binary([element((K rem 256) + 1, Blocks) || K <- lists:seq(0, (Size + 65535) div 65536 - 1)]),
    binary:part(Full, 0, Size).

node_list([]) -> "-";
node_list(Ns) -> lists:join(",", [atom_to_list(N) || N <- Ns]).

run(_, Id, "echo", _) -> out("R ~s ok", [Id]);
run(_, Id, "ping", [Node]) ->
    out("R ~s ok ~s", [Id, net_adm:ping(list_to_atom(Node))]);
run(_, Id, "nodes", _) ->
    out("R ~s ok ~s", [Id, node_list(nodes(connected))]);
run(_, Id, "visible", _) ->
    out("R ~s ok ~s", [Id, node_list(nodes())]);
run(_, Id, "hidden", _) ->
    out("R ~s ok ~s", [Id, node_list(nodes(hidden))]);
run(_, Id, "gsync", _) ->
    T0 = now_ns(),
    R = global:sync(),
    out("R ~s ok ~p ~b", [Id, R, (now_ns() - T0) div 1000000]);
run(_, Id, "gregister", [Name]) ->
    out("R ~s ok ~s", [Id, global:register_name(list_to_atom(Name), self())]);
run(_, Id, "gwhereis", [Name]) ->
    case global:whereis_name(list_to_atom(Name)) of
        undefined -> out("R ~s ok undefined", [Id]);
        P -> out("R ~s ok ~s ~s", [Id, pid_hex(P), node(P)])
    end;
run(_, Id, "gtrans", _) ->
    R = global:trans({snowpeer_lock, self()}, fun() -> done end, [node() | nodes()], 3),
    out("R ~s ok ~p", [Id, R]);
run(_, Id, "disconnect", [Node]) ->
    out("R ~s ok ~s", [Id, erlang:disconnect_node(list_to_atom(Node))]);
run(_, Id, "monitor_nodes", _) ->
    out("R ~s ok ~s", [Id, net_kernel:monitor_nodes(true, [{node_type, all}])]);
run(_, Id, "monitor", [P]) ->
    out("R ~s ok ~s", [Id, hex(term_to_binary(monitor(process, term_of(P))))]);
run(_, Id, "monitorname", [Name, Node]) ->
    out("R ~s ok ~s", [Id, hex(term_to_binary(monitor(process, {list_to_atom(Name), list_to_atom(Node)})))]);
run(_, Id, "demonitor", [R]) ->
    out("R ~s ok ~s", [Id, demonitor(term_of(R), [info])]);
run(_, Id, "link", [P]) ->
    link(term_of(P)),
    ok(Id);
run(_, Id, "unlink", [P]) ->
    unlink(term_of(P)),
    ok(Id);
run(_, Id, "sendexit", [P, A]) ->
    exit(term_of(P), list_to_atom(A)),
    ok(Id);
run(_, Id, "sendexitterm", [P, H]) ->
    exit(term_of(P), term_of(H)),
    ok(Id);
run(_, Id, "canon", [H]) ->
    out("R ~s ok ~s", [Id, t2b(term_of(H))]);
run(_, Id, "monitornamehex", [Name, Node]) ->
    out("R ~s ok ~s", [Id, hex(term_to_binary(monitor(process, {atom_of_hex(Name), list_to_atom(Node)})))]);
run(_, Id, "sendnamedhex", [Name, Node, H]) ->
    {atom_of_hex(Name), list_to_atom(Node)} ! unhex(H),
    ok(Id);
run(_, Id, "send", [P, H]) ->
    term_of(P) ! unhex(H),
    ok(Id);
run(_, Id, "sendpidtuple", [P]) ->
    term_of(P) ! {self(), hello, [1, 2, 3]},
    ok(Id);
run(_, Id, "senddeep", [P, DepthS]) ->
    %% {{{...{deep}...}}}: nested as deep as asked
    Deep = lists:foldl(fun(_, A) -> {A} end, deep, lists:seq(1, list_to_integer(DepthS))),
    term_of(P) ! Deep,
    ok(Id);
run(_, Id, "sendnamed", [Name, Node, H]) ->
    {list_to_atom(Name), list_to_atom(Node)} ! unhex(H),
    ok(Id);
run(_, Id, "linkraw", [NodeS, IdS, SerialS, CreationS]) ->
    %% link/monitor to a pid built from its parts (one that may never have existed)
    P = fabricate_pid(list_to_atom(NodeS), list_to_integer(IdS), list_to_integer(SerialS), list_to_integer(CreationS)),
    link(P),
    out("R ~s ok ~s", [Id, pid_hex(P)]);
run(_, Id, "monitorraw", [NodeS, IdS, SerialS, CreationS]) ->
    P = fabricate_pid(list_to_atom(NodeS), list_to_integer(IdS), list_to_integer(SerialS), list_to_integer(CreationS)),
    out("R ~s ok ~s", [Id, hex(term_to_binary(monitor(process, P)))]);
run(_, Id, "sendbig", [P, SizeS]) ->
    term_of(P) ! pattern(list_to_integer(SizeS)),
    out("R ~s ok 0", [Id]);
run(_, Id, "patterncrc", [SizeS]) ->
    out("R ~s ok ~b", [Id, erlang:crc32(pattern(list_to_integer(SizeS)))]);
run(_, Id, "sendbigterm", [P, NS]) ->
    %% {[1..N], <<"snow" x N*16>>}: integers and a binary only, so
    %% term_to_binary encodes it as the distribution does.
    N = list_to_integer(NS),
    T = {lists:seq(1, N), binary:copy(<<"snow">>, N * 16)},
    term_of(P) ! T,
    B = term_to_binary(T),
    out("R ~s ok ~b ~b", [Id, byte_size(B), erlang:crc32(B)]);
run(_, Id, "rspawn", [Node, Fn, Link, NewLabel | More]) ->
    Opts = [{reply, yes}] ++ [link || Link =:= "1"] ++ [monitor || More =:= ["monitor"]],
    Req = erlang:spawn_request(list_to_atom(Node), snow, list_to_atom(Fn), [<<(list_to_binary(NewLabel))/binary, 0>>], Opts),
    receive
        {spawn_reply, Req, ok, Pid} -> out("R ~s ok ~s", [Id, pid_hex(Pid)]);
        {spawn_reply, Req, error, Reason} -> out("R ~s ok 0 why=~s", [Id, pretty(Reason)])
    after 10000 -> out("R ~s err -10 no spawn_reply", [Id])
    end;
run(Label, Id, "ttsend", Args) -> with_token(Label, Id, "send", Args);
run(Label, Id, "ttsendnamed", Args) -> with_token(Label, Id, "sendnamed", Args);
run(Label, Id, "ttsendexit", Args) -> with_token(Label, Id, "sendexit", Args);
run(Label, Id, "ttrspawn", Args) -> with_token(Label, Id, "rspawn", Args);
run(_, Id, "aliassend", [NodeS, CreationS, H]) ->
    N = list_to_binary(NodeS),
    Ref = binary_to_term(<<131, 90, 3:16, 119, (byte_size(N)), N/binary, (list_to_integer(CreationS)):32,
                           1:32, 2:32, 3:32>>),
    erlang:send(Ref, unhex(H)),
    ok(Id);
run(_, Id, Cmd, _) ->
    out("R ~s err -1 unknown command ~s", [Id, Cmd]).

%% Runs a command with a seq_trace token set, so that what it sends to
%% another node travels in the _TT control messages.
with_token(Label, Id, Cmd, Args) ->
    seq_trace:set_token(label, 17),
    try run(Label, Id, Cmd, Args) after seq_trace:set_token([]) end.
