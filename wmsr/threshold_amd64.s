//go:build amd64 && !purego

#include "textflag.h"
#include "go_asm.h"

// The vector kernel of Round (see threshold4.go for what it computes and
// why it matches trimRound bit for bit).
//
// Vector registers:
//	Y0	zero
//	Y1	values of the current row (then the sums)
//	Y2	keys of the current row (then the counts of kept values)
//	Y3, Y4	temporaries
//	Y5, Y6	running largest and second largest keys (a1, a2)
//	Y7, Y8	running smallest and second smallest keys (b1, b2)
//	Y9	own keys
//	Y10	in-degrees
//	Y11	row index, in the tail rows
//	Y12	all ones (-1)
//	Y13	sign bits (-0 as float64)
//	Y14	minus the expected number of removals
//
// Locals (from SP): 0 own pointer, 8 next pointer, 16 off pointer,
// 24 groups left, 32 failed mask, 40 shift of this group's bits,
// 48 largest in-degree, 56..80 the four in-degrees, 88 zero,
// 96 smallest in-degree.

// GATHER loads row CX of the four neighbour lists (R8..R11) from x (SI)
// into Y1: index loads, value loads, two halves joined.
#define GATHER \
	MOVL (R8)(CX*4), AX; \
	MOVL (R9)(CX*4), BX; \
	MOVL (R10)(CX*4), DX; \
	MOVL (R11)(CX*4), R12; \
	VMOVSD (SI)(AX*8), X1; \
	VMOVHPD (SI)(BX*8), X1, X1; \
	VMOVSD (SI)(DX*8), X2; \
	VMOVHPD (SI)(R12*8), X2, X2; \
	VINSERTF128 $1, X2, Y1, Y1

// GATHERTAIL is GATHER for rows at or beyond the smallest in-degree: a lane
// whose list is shorter loads its element 0 instead (replaced by TAILPAD).
#define GATHERTAIL \
	MOVQ CX, AX; \
	CMPQ AX, 56(SP); \
	CMOVQGE 88(SP), AX; \
	MOVQ CX, BX; \
	CMPQ BX, 64(SP); \
	CMOVQGE 88(SP), BX; \
	MOVQ CX, DX; \
	CMPQ DX, 72(SP); \
	CMOVQGE 88(SP), DX; \
	MOVQ CX, R12; \
	CMPQ R12, 80(SP); \
	CMOVQGE 88(SP), R12; \
	MOVL (R8)(AX*4), AX; \
	MOVL (R9)(BX*4), BX; \
	MOVL (R10)(DX*4), DX; \
	MOVL (R11)(R12*4), R12; \
	VMOVSD (SI)(AX*8), X1; \
	VMOVHPD (SI)(BX*8), X1, X1; \
	VMOVSD (SI)(DX*8), X2; \
	VMOVHPD (SI)(R12*8), X2, X2; \
	VINSERTF128 $1, X2, Y1, Y1

// KEY sets Y2 to flipKey of the values in Y1: the bits of v + 0, with the
// magnitude bits complemented where the sign bit is set.
#define KEY \
	VADDPD Y0, Y1, Y2; \
	VPCMPGTQ Y2, Y0, Y3; \
	VPSRLQ $1, Y3, Y3; \
	VPXOR Y3, Y2, Y2

// TAILPAD replaces, in lanes whose in-degree is ≤ the row index, the value
// by -0 and the key by own's key.
#define TAILPAD \
	VPCMPGTQ Y11, Y10, Y3; \
	VBLENDVPD Y3, Y1, Y13, Y1; \
	VBLENDVPD Y3, Y2, Y9, Y2

// STOREROW stores the row's values and keys and moves DI to the next row.
#define STOREROW \
	VMOVDQU Y1, 0(DI); \
	VMOVDQU Y2, 32(DI); \
	ADDQ $64, DI

// SELECT2 inserts the keys Y2 into the running two largest (Y5 ≥ Y6) and
// two smallest (Y7 ≤ Y8), with compares and blends.
#define SELECT2 \
	VPCMPGTQ Y5, Y2, Y3; \
	VPBLENDVB Y3, Y5, Y2, Y4; \
	VPBLENDVB Y3, Y2, Y5, Y5; \
	VPCMPGTQ Y6, Y4, Y3; \
	VPBLENDVB Y3, Y4, Y6, Y6; \
	VPCMPGTQ Y2, Y7, Y3; \
	VPBLENDVB Y3, Y7, Y2, Y4; \
	VPBLENDVB Y3, Y2, Y7, Y7; \
	VPCMPGTQ Y4, Y8, Y3; \
	VPBLENDVB Y3, Y4, Y8, Y8

// SELECT512 is SELECT2 with AVX-512VL's packed 64-bit min and max.
#define SELECT512 \
	VPMINSQ Y2, Y5, Y4; \
	VPMAXSQ Y2, Y5, Y5; \
	VPMAXSQ Y4, Y6, Y6; \
	VPMAXSQ Y2, Y7, Y4; \
	VPMINSQ Y2, Y7, Y7; \
	VPMINSQ Y4, Y8, Y8

// Constants, four lanes each: gatherCap+1; infBits-1 and -infBits (the
// largest key below +Inf and the smallest above -Inf, as flipKey orders);
// 2⁵² as a float64, whose low mantissa bits take a small integer exactly.
DATA degLimit<>+0(SB)/8, $(const_gatherCap+1)
DATA degLimit<>+8(SB)/8, $(const_gatherCap+1)
DATA degLimit<>+16(SB)/8, $(const_gatherCap+1)
DATA degLimit<>+24(SB)/8, $(const_gatherCap+1)
GLOBL degLimit<>(SB), RODATA|NOPTR, $32
DATA belowInf<>+0(SB)/8, $0x7fefffffffffffff
DATA belowInf<>+8(SB)/8, $0x7fefffffffffffff
DATA belowInf<>+16(SB)/8, $0x7fefffffffffffff
DATA belowInf<>+24(SB)/8, $0x7fefffffffffffff
GLOBL belowInf<>(SB), RODATA|NOPTR, $32
DATA aboveNegInf<>+0(SB)/8, $-0x7ff0000000000000
DATA aboveNegInf<>+8(SB)/8, $-0x7ff0000000000000
DATA aboveNegInf<>+16(SB)/8, $-0x7ff0000000000000
DATA aboveNegInf<>+24(SB)/8, $-0x7ff0000000000000
GLOBL aboveNegInf<>(SB), RODATA|NOPTR, $32
DATA bias52<>+0(SB)/8, $0x4330000000000000
DATA bias52<>+8(SB)/8, $0x4330000000000000
DATA bias52<>+16(SB)/8, $0x4330000000000000
DATA bias52<>+24(SB)/8, $0x4330000000000000
GLOBL bias52<>(SB), RODATA|NOPTR, $32

// func round4(x, own, next *float64, adj, off *int32, s *scratch4, groups, f int, avx512 bool) (failed uint64)
TEXT ·round4(SB), NOSPLIT, $104-80
	MOVQ own+8(FP), AX
	MOVQ AX, 0(SP)
	MOVQ next+16(FP), AX
	MOVQ AX, 8(SP)
	MOVQ off+32(FP), AX
	MOVQ AX, 16(SP)
	MOVQ groups+48(FP), AX
	MOVQ AX, 24(SP)
	MOVQ $0, 32(SP)
	MOVQ $0, 40(SP)
	MOVQ $0, 88(SP)
	VPXOR Y0, Y0, Y0
	VPCMPEQQ Y12, Y12, Y12
	VPSLLQ $63, Y12, Y13

group:
	CMPQ 24(SP), $0
	JLE done

	// In-degrees off[j+1] - off[j]; every one in 1..gatherCap, or the
	// whole group fails.
	MOVQ 16(SP), AX
	VPMOVSXDQ 4(AX), Y10
	VPMOVSXDQ 0(AX), Y3
	VPSUBQ Y3, Y10, Y10
	VMOVDQU Y10, 56(SP)
	VPCMPGTQ Y0, Y10, Y3
	VMOVDQU degLimit<>(SB), Y4
	VPCMPGTQ Y10, Y4, Y4
	VPAND Y4, Y3, Y3
	VMOVMSKPD Y3, BX
	CMPQ BX, $15
	JNE ineligible

	// Smallest and largest in-degree.
	MOVQ 56(SP), BX
	MOVQ BX, CX
	MOVQ BX, DX
	MOVQ 64(SP), BX
	CMPQ BX, CX
	CMOVQLT BX, CX
	CMPQ BX, DX
	CMOVQGT BX, DX
	MOVQ 72(SP), BX
	CMPQ BX, CX
	CMOVQLT BX, CX
	CMPQ BX, DX
	CMOVQGT BX, DX
	MOVQ 80(SP), BX
	CMPQ BX, CX
	CMOVQLT BX, CX
	CMPQ BX, DX
	CMOVQGT BX, DX
	MOVQ CX, 96(SP)
	MOVQ DX, 48(SP)

	// Neighbour lists.
	MOVQ adj+24(FP), SI
	MOVLQSX 0(AX), BX
	LEAQ (SI)(BX*4), R8
	MOVLQSX 4(AX), BX
	LEAQ (SI)(BX*4), R9
	MOVLQSX 8(AX), BX
	LEAQ (SI)(BX*4), R10
	MOVLQSX 12(AX), BX
	LEAQ (SI)(BX*4), R11
	MOVQ x+0(FP), SI

	// Own keys; the running selections start from them (own f times).
	MOVQ 0(SP), AX
	VMOVUPD (AX), Y1
	KEY
	VMOVDQA Y2, Y9
	VMOVDQA Y2, Y5
	VMOVDQA Y2, Y6
	VMOVDQA Y2, Y7
	VMOVDQA Y2, Y8

	MOVQ s+40(FP), DI
	XORL CX, CX
	CMPB avx512+64(FP), $0
	JNE gather512

	// Rows 0 .. smallest in-degree - 1 (at least one).
gather2:
	GATHER
	KEY
	STOREROW
	SELECT2
	INCQ CX
	CMPQ CX, 96(SP)
	JLT gather2
	CMPQ CX, 48(SP)
	JGE thresholds
	VMOVQ CX, X11
	VPBROADCASTQ X11, Y11
tail2:
	GATHERTAIL
	KEY
	TAILPAD
	STOREROW
	SELECT2
	VPSUBQ Y12, Y11, Y11
	INCQ CX
	CMPQ CX, 48(SP)
	JLT tail2
	JMP thresholds

gather512:
	GATHER
	KEY
	STOREROW
	SELECT512
	INCQ CX
	CMPQ CX, 96(SP)
	JLT gather512
	CMPQ CX, 48(SP)
	JGE thresholds
	VMOVQ CX, X11
	VPBROADCASTQ X11, Y11
tail512:
	GATHERTAIL
	KEY
	TAILPAD
	STOREROW
	SELECT512
	VPSUBQ Y12, Y11, Y11
	INCQ CX
	CMPQ CX, 48(SP)
	JLT tail512

thresholds:
	// Y14 = -(expected removals): (a1 > ko) + (b1 < ko) + (af > ko) +
	// (bf < ko) at f = 2, the last two alone at f = 1 (af = a1, bf = b1).
	VPCMPGTQ Y9, Y5, Y3
	VPCMPGTQ Y7, Y9, Y4
	VPADDQ Y4, Y3, Y14
	CMPQ f+56(FP), $1
	JNE thresholdsF
	VMOVDQA Y5, Y6
	VMOVDQA Y7, Y8
	VPXOR Y14, Y14, Y14
thresholdsF:
	// ta = af > ko ? af : ko+1, into Y6.
	VPCMPGTQ Y9, Y6, Y3
	VPADDQ Y3, Y14, Y14
	VPSUBQ Y12, Y9, Y4
	VPBLENDVB Y3, Y6, Y4, Y6
	// lo = bf < ko ? bf+1 : ko, into Y8.
	VPCMPGTQ Y8, Y9, Y3
	VPADDQ Y3, Y14, Y14
	VPSUBQ Y12, Y8, Y4
	VPBLENDVB Y3, Y4, Y9, Y8
	// Kept iff uint64(k - lo) < uint64(ta - lo), as a signed compare:
	// (k - lo) ^ sign < (ta - lo) ^ sign, and (k - lo) ^ sign = k - (lo ^ sign).
	VPSUBQ Y8, Y6, Y6
	VPXOR Y13, Y6, Y6
	VPXOR Y13, Y8, Y8
	// Non-finite: a1 ≥ infBits or b1 ≤ ^infBits, into Y5.
	VPCMPGTQ belowInf<>(SB), Y5, Y5
	VMOVDQU aboveNegInf<>(SB), Y3
	VPCMPGTQ Y7, Y3, Y7
	VPOR Y7, Y5, Y5

	// Sums, in row order, and counts of kept values (pads included).
	MOVQ 0(SP), AX
	VMOVUPD (AX), Y1
	VPXOR Y2, Y2, Y2
	MOVQ s+40(FP), DI
	MOVQ 48(SP), CX
sum:
	VMOVDQU 32(DI), Y3
	VPSUBQ Y8, Y3, Y3
	VPCMPGTQ Y3, Y6, Y3
	VBLENDVPD Y3, 0(DI), Y13, Y4
	VADDPD Y4, Y1, Y1
	VPSUBQ Y3, Y2, Y2
	ADDQ $64, DI
	DECQ CX
	JNZ sum

	// removed = dmax - kept; the lane succeeds iff it is finite and
	// removed equals the expected count.
	MOVQ 48(SP), AX
	VMOVQ AX, X3
	VPBROADCASTQ X3, Y3
	VPSUBQ Y2, Y3, Y3
	VPADDQ Y14, Y3, Y4
	VPCMPEQQ Y0, Y4, Y4
	VPANDN Y4, Y5, Y4
	VMOVMSKPD Y4, AX
	XORQ $15, AX
	// next = sum / float64(1 + d - removed); the divisor, a small positive
	// integer, is converted exactly through the 2⁵² bias.
	VPSUBQ Y3, Y10, Y3
	VPSUBQ Y12, Y3, Y3
	VPOR bias52<>(SB), Y3, Y3
	VSUBPD bias52<>(SB), Y3, Y3
	VDIVPD Y3, Y1, Y1
	MOVQ 8(SP), BX
	VMOVUPD Y1, (BX)
	JMP nextgroup

ineligible:
	MOVQ $15, AX
nextgroup:
	MOVQ 40(SP), CX
	SHLQ CX, AX
	ORQ AX, 32(SP)
	ADDQ $4, 40(SP)
	ADDQ $32, 0(SP)
	ADDQ $32, 8(SP)
	ADDQ $16, 16(SP)
	DECQ 24(SP)
	JMP group

done:
	MOVQ 32(SP), AX
	MOVQ AX, failed+72(FP)
	VZEROUPPER
	RET
