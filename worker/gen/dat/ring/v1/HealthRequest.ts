// Original file: proto/ring.proto


export interface HealthRequest {
}

export interface HealthRequest__Output {
}
