; snowrt.ll: LLVM IR declarations of the whole libsnowrt C ABI (contract
; version 2, abi/include/snowrt.h), for code generators and hand-written IR.
;
; Textual LLVM 14 IR with typed pointers (llvm-14 rejects `ptr` unless
; -opaque-pointers is given, so every pointer here is i8*; LLVM 15+ reads
; i8* as `ptr`). The types are the ones a Snow-style compiler emits and the
; ones clang lowers the header to on x86-64 SysV:
;
;   uint64_t, int64_t, snow_pid_t, snow_ref_t   -> i64
;   uint32_t, int32_t                            -> i32
;   uint8_t                                      -> i8 zeroext (the caller extends)
;   bool                                         -> i1 zeroext
;   any pointer (data, string, function, struct) -> i8*
;
; Prepend this file to a module (or copy the declares a module uses). It has
; no target triple or datalayout so that it never overrides the module's own.
; codegen-shims/check_decls.py keeps it in sync with the header (ctest
; codegen_decls_match_header); edit both together.
;
; Messages: snow_actor_receive returns a pointer to %snow_msg; the payload is
; at byte offset 16 (getelementptr i8, i8* %m, i64 16). Reserved tags, from
; the header: EXIT = -1, DOWN = -2, NODEDOWN = -3, NODEUP = -4,
; SPAWN_REPLY = -5, TERM = -6 (as i64). snow_msg_kind tells a system message
; from a user message that happens to use a reserved tag:
; 0 USER, 1 EXIT, 2 DOWN, 3 NODEUP, 4 NODEDOWN, 5 SPAWN_REPLY, 6 TERM.
; Exit reason tags: 0 normal, 1 error, 2 killed, 4 shutdown, 5 custom,
; 6 noconnection, 7 noproc, 8 term. Errors are negative: -1 EINVAL ...
; -20 EBUSY, -21 ETLS (snow_strerror names them).

; ---------------------------------------------------------------------------
; Types (C layouts; field order and sizes as in the header)
; ---------------------------------------------------------------------------

; { u64 tag, u64 len, u8 data[] }
%snow_msg = type { i64, i64, [0 x i8] }
; Extensible structs (v2): fixed size, trailing reserved words that must be
; zero (spawn options) or are written as zero (stats); a later version gives
; a reserved word a meaning whose zero value keeps the old behaviour.
; { u8 link, u8 monitor, u8 priority, u8 reserved_[5], u64 monitor_ref, u64 stack_size,
;   terminate callback, u64 reserved_words_[4] }: 64 bytes, zero it first
%snow_spawn_opts = type { i8, i8, i8, [5 x i8], i64, i64, i8*, [4 x i64] }
; { processes_alive, processes_spawned, processes_exited, messages_sent,
;   nodes_connected, schedulers, timers_pending, stacks_resident,
;   node_entries, remote_pids, heap_bytes, heap_live_bytes, gc_collections,
;   gc_shared_bytes, alias_sends_dropped, dist_messages_refused }: all u64, 128 bytes
%snow_stats = type { i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64 }
; { u64 pid, u8 status, u8 reserved_[7], message_queue_len, links, monitors,
;   monitored_by, heap_size, reductions, entry, name_len, u8 name[256],
;   u64 reserved_words_[6] }: 384 bytes (snow_process_info)
%snow_proc_info = type { i64, i8, [7 x i8], i64, i64, i64, i64, i64, i64, i64, i64, [256 x i8], [6 x i64] }
; { start, args, args_size, u8 restart, u8 reserved_[7], i64 shutdown_ms,
;   node, node_len, function, function_len }
%snow_child_spec = type { i8*, i8*, i64, i8, [7 x i8], i64, i8*, i64, i8*, i64 }
; { u8 strategy, u8 reserved_[3], u32 max_restarts, u64 period_ms, children, child_count }
%snow_sup_spec = type { i8, [3 x i8], i32, i64, i8*, i64 }

; ---------------------------------------------------------------------------
; Errors
; ---------------------------------------------------------------------------

; const char* snow_strerror(int64_t code)
declare i8* @snow_strerror(i64)

; ---------------------------------------------------------------------------
; 2. Lifecycle
; ---------------------------------------------------------------------------

; void snow_rt_init(void)
declare void @snow_rt_init()
; int32_t snow_rt_init_actor(uint32_t schedulers)
declare i32 @snow_rt_init_actor(i32)
; int32_t snow_rt_set_signal_handling(bool enabled)
declare i32 @snow_rt_set_signal_handling(i1 zeroext)
; void snow_rt_set_log_handler(snow_log_handler fn, void* ctx)
declare void @snow_rt_set_log_handler(i8*, i8*)
; int32_t snow_rt_set_log_level(int32_t level)
declare i32 @snow_rt_set_log_level(i32)
; int32_t snow_rt_log_level(void)
declare i32 @snow_rt_log_level()
; int32_t snow_rt_run_scheduler(void)
declare i32 @snow_rt_run_scheduler()
; void snow_rt_halt(int32_t status)
declare void @snow_rt_halt(i32)
; uint32_t snow_rt_abi_version(void)
declare i32 @snow_rt_abi_version()
; snow_pid_t snow_thread_attach(void)
declare i64 @snow_thread_attach()
; int32_t snow_thread_detach(void)
declare i32 @snow_thread_detach()

; ---------------------------------------------------------------------------
; 3. Processes and messages
; ---------------------------------------------------------------------------

; snow_pid_t snow_actor_spawn(void (*fn)(const uint8_t*), const uint8_t* args, uint64_t size, uint8_t priority)
declare i64 @snow_actor_spawn(i8*, i8*, i64, i8 zeroext)
; snow_pid_t snow_actor_spawn_opts(void (*fn)(const uint8_t*), const uint8_t* args, uint64_t size, snow_spawn_opts* opts)
declare i64 @snow_actor_spawn_opts(i8*, i8*, i64, i8*)
; snow_pid_t snow_actor_self(void)
declare i64 @snow_actor_self()
; void snow_reduction_check(void)
declare void @snow_reduction_check()
; void snow_actor_yield(void)
declare void @snow_actor_yield()
; int32_t snow_actor_send(snow_pid_t to, const uint8_t* msg, uint64_t size)
declare i32 @snow_actor_send(i64, i8*, i64)
; const snow_msg* snow_actor_receive(int64_t timeout_ms)
declare i8* @snow_actor_receive(i64)
; const snow_msg* snow_actor_receive_match(int (*match)(const snow_msg*, void*), void* ctx, int64_t timeout_ms)
declare i8* @snow_actor_receive_match(i8*, i8*, i64)
; uint32_t snow_msg_kind(const snow_msg* msg)
declare i32 @snow_msg_kind(i8*)
; int32_t snow_actor_register(const char* name, uint64_t len)
declare i32 @snow_actor_register(i8*, i64)
; int32_t snow_actor_unregister(const char* name, uint64_t len)
declare i32 @snow_actor_unregister(i8*, i64)
; snow_pid_t snow_actor_whereis(const char* name, uint64_t len)
declare i64 @snow_actor_whereis(i8*, i64)
; int32_t snow_actor_send_named(const char* name, uint64_t nlen, const char* node, uint64_t dlen, const uint8_t* msg, uint64_t size)
declare i32 @snow_actor_send_named(i8*, i64, i8*, i64, i8*, i64)

; ---------------------------------------------------------------------------
; 4. Exits, links and monitors
; ---------------------------------------------------------------------------

; int32_t snow_actor_link(snow_pid_t pid)
declare i32 @snow_actor_link(i64)
; int32_t snow_actor_unlink(snow_pid_t pid)
declare i32 @snow_actor_unlink(i64)
; bool snow_actor_trap_exit(void)
declare zeroext i1 @snow_actor_trap_exit()
; bool snow_actor_set_trap_exit(bool on)
declare zeroext i1 @snow_actor_set_trap_exit(i1 zeroext)
; int32_t snow_actor_exit(snow_pid_t pid, uint8_t reason_tag)
declare i32 @snow_actor_exit(i64, i8 zeroext)
; int32_t snow_actor_exit_reason(snow_pid_t pid, const uint8_t* reason, uint64_t len)
declare i32 @snow_actor_exit_reason(i64, i8*, i64)
; _Noreturn void snow_actor_exit_self(const uint8_t* reason, uint64_t len)
declare void @snow_actor_exit_self(i8*, i64) noreturn
; _Noreturn void snow_panic(const char* msg, uint64_t mlen, const char* file, uint64_t flen, uint32_t line)
declare void @snow_panic(i8*, i64, i8*, i64, i32) noreturn
; void snow_actor_set_terminate(snow_pid_t pid, void (*cb)(const uint8_t* state, const uint8_t* reason))
declare void @snow_actor_set_terminate(i64, i8*)
; snow_ref_t snow_process_monitor(snow_pid_t pid)
declare i64 @snow_process_monitor(i64)
; int64_t snow_process_demonitor(snow_ref_t ref)
declare i64 @snow_process_demonitor(i64)
; int64_t snow_process_demonitor_flush(snow_ref_t ref)
declare i64 @snow_process_demonitor_flush(i64)
; int64_t snow_node_monitor(const char* node, uint64_t len)
declare i64 @snow_node_monitor(i8*, i64)
; int64_t snow_node_demonitor(int64_t id)
declare i64 @snow_node_demonitor(i64)
; int64_t snow_node_monitor_all(bool on)
declare i64 @snow_node_monitor_all(i1 zeroext)

; ---------------------------------------------------------------------------
; 5. Distribution
; ---------------------------------------------------------------------------

; int64_t snow_node_start(const char* name, uint64_t nlen, const char* cookie, uint64_t clen)
declare i64 @snow_node_start(i8*, i64, i8*, i64)
; int64_t snow_node_stop(void)
declare i64 @snow_node_stop()
; int64_t snow_node_connect(const char* node, uint64_t len)
declare i64 @snow_node_connect(i8*, i64)
; int64_t snow_node_disconnect(const char* node, uint64_t len)
declare i64 @snow_node_disconnect(i8*, i64)
; const void* snow_node_self(void): Snow string [u64 len][bytes]
declare i8* @snow_node_self()
; const void* snow_node_list(void): Snow list [u64 len][u64 cap][u64 string_ptr x len]
declare i8* @snow_node_list()
; int64_t snow_node_name(char* buf, uint64_t cap)
declare i64 @snow_node_name(i8*, i64)
; void snow_register_function(const char* name, uint64_t len, void (*fn)(const uint8_t*))
declare void @snow_register_function(i8*, i64, i8*)
; snow_pid_t snow_node_spawn(const char* node, uint64_t nlen, const char* fname, uint64_t flen, const uint8_t* args, uint64_t asize, uint8_t link)
declare i64 @snow_node_spawn(i8*, i64, i8*, i64, i8*, i64, i8 zeroext)
; snow_pid_t snow_node_spawn_opts(const char* node, uint64_t nlen, const char* fname, uint64_t flen, const uint8_t* args, uint64_t asize, snow_spawn_opts* o)
declare i64 @snow_node_spawn_opts(i8*, i64, i8*, i64, i8*, i64, i8*)
; int64_t snow_term_encode_pid(snow_pid_t pid, uint8_t* buf, uint64_t cap)
declare i64 @snow_term_encode_pid(i64, i8*, i64)
; snow_pid_t snow_term_decode_pid(const uint8_t* etf, uint64_t len)
declare i64 @snow_term_decode_pid(i8*, i64)
; int32_t snow_actor_send_term(snow_pid_t to, const uint8_t* etf, uint64_t len)
declare i32 @snow_actor_send_term(i64, i8*, i64)

; int32_t snow_actor_send_named_term(const char* name, uint64_t nlen, const char* node, uint64_t dlen, const uint8_t* etf, uint64_t len)
declare i32 @snow_actor_send_named_term(i8*, i64, i8*, i64, i8*, i64)
; int64_t snow_node_set_tls(const char* key, uint64_t klen, const char* value, uint64_t vlen)
declare i64 @snow_node_set_tls(i8*, i64, i8*, i64)

; int64_t snow_node_set_ticktime(uint32_t ms)
declare i64 @snow_node_set_ticktime(i32)

; ---------------------------------------------------------------------------
; 6. Timers and heap
; ---------------------------------------------------------------------------

; void snow_timer_sleep(int64_t ms)
declare void @snow_timer_sleep(i64)
; snow_ref_t snow_timer_send_after(snow_pid_t pid, int64_t ms, const uint8_t* msg, int64_t size)
declare i64 @snow_timer_send_after(i64, i64, i8*, i64)
; int64_t snow_timer_cancel(snow_ref_t timer)
declare i64 @snow_timer_cancel(i64)
; void* snow_gc_alloc_actor(uint64_t size, uint64_t align)
declare i8* @snow_gc_alloc_actor(i64, i64)
; void snow_gc_collect(void)
declare void @snow_gc_collect()
; int32_t snow_rt_stats(snow_stats* out)
declare i32 @snow_rt_stats(i8*)
; int64_t snow_rt_processes(snow_pid_t* buf, uint64_t cap)
declare i64 @snow_rt_processes(i8*, i64)
; int32_t snow_process_info(snow_pid_t pid, snow_proc_info* out)
declare i32 @snow_process_info(i64, i8*)

; ---------------------------------------------------------------------------
; 7. Services and supervisors
; ---------------------------------------------------------------------------

; const snow_msg* snow_service_call(snow_pid_t server, uint64_t tag, const uint8_t* payload, uint64_t size)
; Never NULL in a process: a failed call exits the caller (v2).
declare i8* @snow_service_call(i64, i64, i8*, i64)
; const snow_msg* snow_service_call_timeout(snow_pid_t server, uint64_t tag, const uint8_t* payload, uint64_t size, int64_t timeout_ms)
declare i8* @snow_service_call_timeout(i64, i64, i8*, i64, i64)
; const snow_msg* snow_service_try_call(snow_pid_t server, uint64_t tag, const uint8_t* payload, uint64_t size, int64_t timeout_ms)
; NULL on failure, with snow_service_last_error (v2).
declare i8* @snow_service_try_call(i64, i64, i8*, i64, i64)
; int32_t snow_service_reply(snow_pid_t caller, const uint8_t* reply, uint64_t size)
declare i32 @snow_service_reply(i64, i8*, i64)
; int64_t snow_service_last_error(void)
declare i64 @snow_service_last_error()
; snow_pid_t snow_supervisor_start(const snow_sup_spec* spec)
declare i64 @snow_supervisor_start(i8*)
; snow_pid_t snow_supervisor_start_child(snow_pid_t sup, const snow_child_spec* child)
declare i64 @snow_supervisor_start_child(i64, i8*)
; int64_t snow_supervisor_terminate_child(snow_pid_t sup, snow_pid_t child)
declare i64 @snow_supervisor_terminate_child(i64, i64)
; int64_t snow_supervisor_count_children(snow_pid_t sup)
declare i64 @snow_supervisor_count_children(i64)

; ---------------------------------------------------------------------------
; 7. Jobs (v2): SnowResult {i8 tag (0 Ok, 1 Err), i64 value @8}, SnowList
; [i64 len][i64 cap][i64 x len], SnowString [i64 len][bytes]
; ---------------------------------------------------------------------------

; snow_pid_t snow_job_async(int64_t (*fn)(void* env), void* env)
declare i64 @snow_job_async(i8*, i8*)
; const void* snow_job_await(snow_pid_t job)
declare i8* @snow_job_await(i64)
; const void* snow_job_await_timeout(snow_pid_t job, int64_t ms)
declare i8* @snow_job_await_timeout(i64, i64)
; const void* snow_job_map(const void* list, int64_t (*fn)(void* env, int64_t elem), void* env)
declare i8* @snow_job_map(i8*, i8*, i8*)
