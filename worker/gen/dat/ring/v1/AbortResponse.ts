// Original file: proto/ring.proto


export interface AbortResponse {
}

export interface AbortResponse__Output {
}
