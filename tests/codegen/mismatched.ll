; mismatched.ll: a deliberately wrong copy of a few declarations, for the
; test that proves check_decls.py catches mismatches (it must report each of
; the lines marked WRONG, and the missing declarations).
%snow_msg = type { i64, i32, [0 x i8] }                  ; WRONG: len is u64
declare i8* @snow_actor_receive(i32)                     ; WRONG: timeout is i64
declare void @snow_actor_trap_exit()                     ; WRONG: returns bool
declare i32 @snow_actor_exit(i64, i8)                    ; WRONG: u8 needs zeroext
declare void @snow_panic(i8*, i64, i8*, i64, i32)        ; WRONG: noreturn missing
declare void @snow_not_in_the_header()                   ; WRONG: unknown function
